"""SymPy printers for LSTM expressions, in a chosen :class:`~symlstm.symbols.Notation`.

Both printers keep the textbook term order (``order="none"``), write element-wise
products as ⊙ and element-wise activations as σ(z), and name symbols from the
notation's tables.

>>> from symlstm.cell import Cell
>>> cell = Cell("tied")
>>> eq = cell.equations(inline=True)[0]
>>> latex(eq, notation="spec")
'f_{t} = \\\\sigma\\\\left(W_{f} h_{t-1} + W_{f} x_{t} + b_{f}\\\\right)'
>>> text(eq, notation="spec")
'f_t = σ(W_f·h_{t-1} + W_f·x_t + b_f)'
>>> text(Cell("vector").equations(inline=True)[3], notation="canonical")
'c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t'
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from symlstm.symbols import Notation
from symlstm.symbols import notation as get_notation

__all__ = ["LSTMLatexPrinter", "LSTMTextPrinter", "latex", "text"]


def all_shown(expr: sympy.Expr) -> bool:
    """True for a product of displayed numbers (worked examples' Shown atoms), where × reads
    better than juxtaposition: 0.7 × 0.2, 0.4228 × 0.652 × (1 - 0.652)."""
    if not expr.is_Mul:
        return False  # SymPy prints 1/x through _print_Mul too
    symbols = expr.free_symbols
    if expr.args and expr.args[0].is_Number and expr.args[0] < 0:
        return False  # −0.65, not (−1) × 0.65
    return bool(symbols) and all(getattr(s, "is_shown", False) for s in symbols)


def _elementwise_call(expr: Any) -> sympy.Expr | None:
    """How to print ``z.applyfunc(φ)``: φ(z) for a single function (σ(z)), or the body as
    element-wise matrix algebra (``d ↦ d(1 − d)`` at o is o ⊙ (1 − o))."""
    body, (var,) = expr.function.expr, expr.function.variables
    if isinstance(body, sympy.Function) and body.args and body.args[0] == var:
        return body.func(expr.expr, *body.args[1:], evaluate=False)
    return _hadamard_form(body, var, expr.expr)


def shown_as(expr: Any) -> Any:
    """What an element-wise application prints as, for choosing parentheses around it."""
    if isinstance(expr, ElementwiseApplyFunction):
        call = _elementwise_call(expr)
        return call if call is not None else expr
    return expr


def shown_precedence(expr: Any) -> int:
    """The precedence of what ``expr`` prints as: an element-wise application printed as
    its body (softsign's derivative ``1/(1 + |c|) − c·sign(c)/(1 + |c|)²``) binds as that
    body does, so a ⊙ around it needs parentheses."""
    from sympy.printing.precedence import precedence

    shown = shown_as(expr)
    if isinstance(shown, ElementwiseApplyFunction):
        return precedence(shown.function.expr)
    return precedence(shown)


def _hadamard_form(body: sympy.Expr, var: sympy.Symbol, arg: Any) -> Any:
    """A polynomial in ``var`` as a matrix expression in ``arg`` with ⊙ for products."""
    if body == var:
        return arg
    if body.is_Number:
        ones = sympy.OneMatrix(*arg.shape)
        return ones if body == 1 else sympy.MatMul(body, ones)
    parts = [_hadamard_form(a, var, arg) for a in body.args]
    if any(p is None for p in parts):
        return None
    if body.is_Add:
        return sympy.MatAdd(*parts)
    if body.is_Mul:
        coeff = sympy.Mul(*(a for a in body.args if a.is_Number))
        mats = [p for a, p in zip(body.args, parts, strict=True) if not a.is_Number]
        product = mats[0] if len(mats) == 1 else sympy.HadamardProduct(*mats)
        return product if coeff == 1 else sympy.MatMul(coeff, product)
    if body.is_Pow and body.exp.is_Integer and body.exp > 0:
        return sympy.HadamardProduct(*[parts[0]] * int(body.exp))
    return None


class ElementwiseBodies:
    """Print ``z.applyfunc(d ↦ body)`` that is neither one call nor ⊙-algebra (a clipped
    gate's σ(min(C, max(−C, d)))) as the body with d printed as z."""

    def _print_ElementwiseApplyFunction(self, expr):
        call = _elementwise_call(expr)
        if call is not None:
            return self._print(call)
        body, (var,) = expr.function.expr, expr.function.variables
        arg = self._print(shown_as(expr.expr))
        inside_product = any(
            isinstance(node, sympy.Mul | sympy.Pow) and var in node.args
            for node in sympy.preorder_traversal(body)
        )
        if inside_product and not isinstance(expr.expr, sympy.MatrixSymbol):
            arg = self._parenthesized(arg)
        bound = self._bound
        self._bound = {**bound, var: arg}
        try:
            return self._print(body)
        finally:
            self._bound = bound

    _bound: dict = {}

    def parenthesize(self, item, level, *args, **kwargs):
        if isinstance(item, ElementwiseApplyFunction) and shown_precedence(item) < level:
            return self._parenthesized(self._print(item))
        return super().parenthesize(item, level, *args, **kwargs)

    def _print_Dummy(self, expr, *args, **kwargs):
        if expr in self._bound:
            return self._bound[expr]
        return super()._print_Dummy(expr, *args, **kwargs)


class LSTMLatexPrinter(ElementwiseBodies, LatexPrinter):
    """LaTeX in a notation: ``LSTMLatexPrinter({"notation": "spec"}).doprint(expr)``."""

    _default_settings = {**LatexPrinter._default_settings, "notation": "canonical"}

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        settings = {"order": "none", "mul_symbol": None, **(settings or {})}
        super().__init__(settings)
        self._notation: Notation = get_notation(self._settings["notation"])

    def _print_Symbol(self, expr, style="plain"):
        name = self._notation.latex.get(expr.name)
        return name if name is not None else super()._print_Symbol(expr, style)

    def _print_MatrixSymbol(self, expr):
        name = self._notation.latex.get(expr.name)
        return name if name is not None else super()._print_MatrixSymbol(expr)

    def _print_Mul(self, expr):
        if all_shown(expr):  # numbers: 0.7 \times 0.2, not juxtaposed
            return r" \times ".join(self.parenthesize(a, PRECEDENCE["Mul"]) for a in expr.args)
        return super()._print_Mul(expr)

    def _print_HadamardProduct(self, expr):
        return r" \odot ".join(self.parenthesize(shown_as(a), PRECEDENCE["Mul"]) for a in expr.args)

    def _parenthesized(self, text: str) -> str:
        return rf"\left({text}\right)"

    def _print_OneMatrix(self, expr):
        return r"\mathbf{1}"

    def _print_tanh(self, expr, exp=None):
        # \tanh\left(x\right), like σ, instead of SymPy's \tanh{\left(x \right)}
        base = rf"\tanh\left({self._print(expr.args[0])}\right)"
        return rf"{base}^{{{exp}}}" if exp is not None else base


class LSTMTextPrinter(ElementwiseBodies, StrPrinter):
    """Plain Unicode text in a notation: σ, ⊙ and · for products."""

    _default_settings = {**StrPrinter._default_settings, "notation": "canonical"}

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({"order": "none", **(settings or {})})
        self._notation: Notation = get_notation(self._settings["notation"])

    def _print_Symbol(self, expr):
        return self._notation.text.get(expr.name, expr.name)

    _print_MatrixSymbol = _print_Symbol

    def _print_Mul(self, expr):
        if all_shown(expr):
            return " × ".join(self.parenthesize(a, PRECEDENCE["Mul"]) for a in expr.args)
        return super()._print_Mul(expr).replace("**", "^").replace("*", "·")

    def _print_MatMul(self, expr):
        args = list(expr.args)
        sign = ""
        if args[0] == -1:  # -A, not (-1)·A
            sign, args = "-", args[1:]
        return sign + "·".join(self.parenthesize(shown_as(a), PRECEDENCE["Mul"]) for a in args)

    def _print_Pow(self, expr, rational=False):
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Transpose(self, expr):
        return f"{self.parenthesize(expr.arg, PRECEDENCE['Pow'])}ᵀ"

    def _print_HadamardProduct(self, expr):
        return " ⊙ ".join(self.parenthesize(shown_as(a), PRECEDENCE["Mul"]) for a in expr.args)

    def _parenthesized(self, text: str) -> str:
        return f"({text})"

    def _print_MatrixBase(self, expr):
        # [0.2, 0.1; -0.1, 0.3]: rows split by semicolons, a column vector as [1; 0.5; -1]
        rows = "; ".join(", ".join(self._print(v) for v in expr.row(r)) for r in range(expr.rows))
        return f"[{rows}]"

    _print_ImmutableDenseMatrix = _print_MatrixBase
    _print_MutableDenseMatrix = _print_MatrixBase

    def _print_sigmoid(self, expr):
        return f"σ({self._print(expr.args[0])})"

    def _print_hard_sigmoid(self, expr):
        return f"σ_hard({self._print(expr.args[0])})"

    def _print_OneMatrix(self, expr):
        return "1"

    def _relation(self, expr: sympy.core.relational.Relational, symbol: str) -> str:
        """``lhs symbol rhs``, each side parenthesised only where it binds looser than a
        relation (a relation inside a relation)."""
        level = PRECEDENCE["Relational"]
        return f"{self.parenthesize(expr.lhs, level)} {symbol} {self.parenthesize(expr.rhs, level)}"

    def _print_Equality(self, expr):
        return self._relation(expr, "=")

    def _print_Unequality(self, expr):
        return self._relation(expr, "≠")

    def _print_LessThan(self, expr):
        return self._relation(expr, "≤")

    def _print_StrictLessThan(self, expr):
        return self._relation(expr, "<")

    def _print_GreaterThan(self, expr):
        return self._relation(expr, "≥")

    def _print_StrictGreaterThan(self, expr):
        return self._relation(expr, ">")

    def _print_And(self, expr):
        return self.stringify(expr.args, " ∧ ", PRECEDENCE["And"])

    def _print_Or(self, expr):
        return self.stringify(expr.args, " ∨ ", PRECEDENCE["And"])  # (a ∧ b) ∨ c

    def _print_Piecewise(self, expr):
        # {1/5 if z > -5/2 ∧ z < 5/2; 0 otherwise}: the text form of LaTeX's cases
        pieces = [
            f"{self._print(value)} otherwise"
            if condition == sympy.true
            else f"{self._print(value)} if {self._print(condition)}"
            for value, condition in expr.args
        ]
        return "{" + "; ".join(pieces) + "}"


def latex(expr: sympy.Basic, *, notation: str | Notation = "canonical", **settings: Any) -> str:
    """LaTeX of an LSTM expression or equation in a notation."""
    return LSTMLatexPrinter({"notation": notation, **settings}).doprint(expr)


def text(expr: sympy.Basic, *, notation: str | Notation = "canonical", **settings: Any) -> str:
    """Unicode text of an LSTM expression or equation in a notation."""
    return LSTMTextPrinter({"notation": notation, **settings}).doprint(expr)
