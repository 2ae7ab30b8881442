"""The printer of generated NumPy code: SymPy expressions as in-place ufunc calls.

:class:`InPlaceNumPyPrinter` is SymPy's :class:`~sympy.printing.numpy.NumPyPrinter` with
buffers for symbols: :meth:`~InPlaceNumPyPrinter.assign` prints an assignment as NumPy
ufunc calls that each write into the target or into a temporary buffer ``_t<k>``, so a
generated step allocates nothing. :mod:`symlstm.codegen.numpy_code` prints the element-wise
steps of a generated module with it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import sympy
from sympy import Abs, Add, Max, Min, Mul, Number, Pow, S, Symbol, exp, sign, tanh
from sympy.printing.numpy import NumPyPrinter

from symlstm.codegen.common import literal
from symlstm.errors import SymLSTMError
from symlstm.functions import hard_sigmoid, sigmoid

__all__ = ["InPlaceNumPyPrinter"]


class _Call(NamedTuple):
    """One printed ufunc call that writes ``out``: ``func(*args, out=out, *keywords)``."""

    func: str
    args: tuple[str, ...]
    out: str
    keywords: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.func}({', '.join((*self.args, f'out={self.out}', *self.keywords))})"


class InPlaceNumPyPrinter(NumPyPrinter):
    """Print an element-wise assignment as in-place NumPy ufunc calls.

    ``names`` maps each symbol to the Python expression of its buffer. Every
    operation writes into ``out`` or into a temporary buffer ``_t<k>``; nothing
    is allocated per call. Node types without an in-place rule fall back to
    NumPyPrinter's ordinary (allocating) form, assigned with ``out[...] =``.

    >>> from sympy import symbols
    >>> a, b = symbols("a b")
    >>> p = InPlaceNumPyPrinter({a: "a", b: "b"})
    >>> print("\\n".join(p.assign("out", a * (1 - a) * b)))
    np.subtract(1, a, out=out)
    np.multiply(out, a, out=out)
    np.multiply(out, b, out=out)
    """

    _default_settings = {**NumPyPrinter._default_settings, "strict": True}

    def __init__(self, names: dict[sympy.Symbol, str], settings: dict | None = None) -> None:
        super().__init__(settings or {})
        self.names = dict(names)
        self._free: list[str] = []
        self.temporaries = 0
        #: A scratch array for ``_sigmoid`` by the buffer it activates in place, and those used.
        self.sigmoid_work: dict[str, str] = {}
        self.used_work: set[str] = set()

    # -- the ordinary printer, with buffers for symbols and ``np`` for ``numpy`` --

    def _module_format(self, fqn: str, register: bool = True) -> str:
        text = super()._module_format(fqn, register)
        return "np" + text[len("numpy") :] if text.startswith("numpy") else text

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        try:
            return self.names[expr]
        except KeyError:
            raise SymLSTMError(f"no buffer for symbol {expr} in generated code") from None

    def _print_Rational(self, expr: sympy.Rational) -> str:
        return literal(expr)

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        if len(expr.args) == 2 and expr.args[1].cond == True:  # noqa: E712 (SymPy's true)
            (value, cond), (other, _) = expr.args
            args = ", ".join(self._print(a) for a in (cond, value, other))
            return f"np.where({args})"
        return super()._print_Piecewise(expr)

    def _print_And(self, expr: sympy.And) -> str:
        return " & ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Relational(self, expr: sympy.core.relational.Relational) -> str:
        if expr.rel_op in ("<", ">", "<=", ">="):
            return f"{self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)}"
        return super()._print_Relational(expr)

    def _print_Max(self, expr: sympy.Expr) -> str:
        return self._fold("np.maximum", expr.args)

    def _print_Min(self, expr: sympy.Expr) -> str:
        return self._fold("np.minimum", expr.args)

    def _fold(self, ufunc: str, args: tuple) -> str:
        """Nested binary calls: NumPyPrinter's functools.reduce needs an import the module lacks."""
        text = self._print(args[0])
        for arg in args[1:]:
            text = f"{ufunc}({text}, {self._print(arg)})"
        return text

    def _print_Heaviside(self, expr: sympy.Expr) -> str:
        at_zero = expr.args[1] if len(expr.args) == 2 else S.Half  # SymPy's H(0) = 1/2
        return f"np.heaviside({self._print(expr.args[0])}, {literal(at_zero)})"

    def _print_sigmoid(self, expr: sympy.Expr) -> str:
        return f"_sigmoid({self._print(expr.args[0])})"

    def _print_hard_sigmoid(self, expr: sympy.Expr) -> str:
        z = self._print(expr.args[0])
        return f"_hard_sigmoid({z}, {literal(expr.slope)}, {literal(expr.offset)})"

    # -- in-place assignments ------------------------------------------------------

    def temporary(self) -> str:
        """The name of a free (batch, n) temporary buffer: a released one, else ``_t<k>``."""
        if self._free:
            return self._free.pop()
        self.temporaries += 1
        return f"_t{self.temporaries - 1}"

    def release(self, name: str) -> None:
        """Give back a temporary buffer of :meth:`temporary` for the next assignment."""
        self._free.append(name)

    def _leaf(self, expr: sympy.Expr) -> str | None:
        if isinstance(expr, Number):
            return literal(expr)
        if isinstance(expr, Symbol):
            return self._print(expr)
        return None

    def assign(self, out: str, expr: sympy.Expr, alias: sympy.Symbol | None = None) -> list[str]:
        """Lines that compute ``expr`` into the existing buffer ``out``.

        ``alias`` is the symbol whose buffer ``out`` is, if ``expr`` reads it
        (``z = z + p*c`` in place); other buffers must not overlap ``out``.
        """
        return [str(line) for line in self._calls(out, expr, alias)]

    def assign_into_view(self, view: str, expr: sympy.Expr) -> list[str]:
        """Lines that compute ``expr`` in a temporary buffer, the last call writing ``view``.

        A gate's block is a strided view (rows of n in rows of 4 n), and NumPy runs a ufunc
        on such a view one row at a time: each call costs about three times a call on a
        contiguous array of the same size. So the intermediate results stay contiguous.

        >>> from sympy import symbols
        >>> a, b = symbols("a b")
        >>> p = InPlaceNumPyPrinter({a: "a", b: "b"})
        >>> print("\\n".join(p.assign_into_view("v", a * b + 1)))
        np.multiply(a, b, out=_t0)
        np.add(_t0, 1, out=v)
        """
        scratch = self.temporary()
        calls = self._calls(scratch, expr, None)
        last = calls[-1]
        if isinstance(last, _Call) and last.out == scratch:
            calls[-1] = last._replace(out=view)
        else:
            calls.append(f"np.copyto({view}, {scratch})")
        self.release(scratch)
        return [str(line) for line in calls]

    def _calls(self, out: str, expr: sympy.Expr, alias: Any) -> list[_Call | str]:
        lines: list[_Call | str] = []
        if alias is not None and alias in expr.free_symbols and not _alias_safe(expr, alias):
            tmp = self.temporary()
            self._emit(expr, tmp, lines, None)
            lines.append(f"np.copyto({out}, {tmp})")
            self.release(tmp)
        else:
            self._emit(expr, out, lines, alias)
        return lines

    def _emit(self, expr: sympy.Expr, out: str, lines: list, alias: Any) -> None:
        leaf = self._leaf(expr)
        if leaf is not None:
            if expr != alias:
                lines.append(f"np.copyto({out}, {leaf})")
            return
        if isinstance(expr, Add):
            self._emit_chain(expr, out, lines, alias, "add")
        elif isinstance(expr, Mul):
            self._emit_chain(expr, out, lines, alias, "multiply")
        elif isinstance(expr, Pow) and expr.exp == -2:  # 1/x**2, as softsign' has
            squared = Pow(expr.base, 2, evaluate=False)
            self._emit(Pow(squared, -1, evaluate=False), out, lines, alias)
        elif isinstance(expr, Pow) and expr.exp in (2, -1, S.Half):
            ufunc = {2: "square", -1: "reciprocal", S.Half: "sqrt"}[expr.exp]
            base = self._leaf(expr.base)
            if base is None:
                self._emit(expr.base, out, lines, alias)
                base = out
            if ufunc == "reciprocal":  # np.reciprocal is for floats too, but 1/x reads plainer
                lines.append(_Call("np.divide", ("1", base), out))
            else:
                lines.append(_Call(f"np.{ufunc}", (base,), out))
        elif isinstance(expr, tanh | exp | Abs | sign | sigmoid | hard_sigmoid):
            arg = self._leaf(expr.args[0])
            if arg is None:
                self._emit(expr.args[0], out, lines, alias)
                arg = out
            if isinstance(expr, sigmoid):
                work = self.sigmoid_work.get(out) if arg == out else None
                if work is not None:
                    self.used_work.add(work)
                lines.append(
                    _Call("_sigmoid", (arg,), out, () if work is None else (f"work={work}",))
                )
            elif isinstance(expr, hard_sigmoid):
                a, b = literal(expr.slope), literal(expr.offset)
                lines.append(_Call("_hard_sigmoid", (arg, a, b), out))
            else:
                ufunc = {tanh: "tanh", exp: "exp", Abs: "abs", sign: "sign"}[type(expr)]
                lines.append(_Call(f"np.{ufunc}", (arg,), out))
        elif isinstance(expr, Max | Min) and len(expr.args) == 2:
            ufunc = "maximum" if isinstance(expr, Max) else "minimum"
            self._emit_chain(expr, out, lines, alias, ufunc)
        else:  # Piecewise and the rest: NumPy's own (allocating) form
            lines.append(f"{out}[...] = {self.doprint(expr)}")

    def _emit_chain(self, expr, out, lines, alias, ufunc) -> None:
        """Fold an n-ary Add/Mul (or a binary max/min) into ``out`` one operand at a time."""
        args = list(expr.args)
        coefficient = None
        if ufunc == "multiply" and isinstance(args[0], Number):
            coefficient, args = args[0], args[1:]
            if coefficient == -1:
                coefficient = "negate"

        def split(term):
            # a - b and a / b read better (and cost the same) as one subtract / divide
            if ufunc == "add" and isinstance(term, Mul) and term.args[0] == -1:
                return "subtract", Mul(*term.args[1:])
            if ufunc == "multiply" and isinstance(term, Pow) and term.exp == -1:
                return "divide", term.base
            return ufunc, term

        ops = [split(a) for a in args]

        # The base is computed into ``out`` first: the aliased operand if any, else a
        # compound one (no temporary needed), else the first that is not inverted.
        def base_rank(item):
            op, term = item
            if alias is not None and alias in term.free_symbols:
                return 0  # the operand reading out's own buffer comes first
            if op == ufunc and self._leaf(term) is None:
                return 1
            return 2 if op == ufunc else 3

        ops.sort(key=base_rank)
        (op0, base), rest = ops[0], ops[1:]
        plain = [k for k, (op, term) in enumerate(rest) if op == ufunc and self._leaf(term)]
        if op0 != ufunc and base_rank((op0, base)) == 0 and plain:  # 1 - g**2 into g's buffer
            leaf = self._leaf(rest.pop(plain[0])[1])
            self._emit(base, out, lines, alias)
            lines.append(_Call(f"np.{op0}", (leaf, out), out))
            op0, base = ufunc, alias
        if op0 != ufunc:  # every operand inverted: -a - b, 1/(a b)
            rest = [(op0, base), *rest]
            base = S.Zero if ufunc == "add" else S.One
        base_leaf = self._leaf(base)
        start = 0
        if base_leaf is not None and base != alias and rest:
            op, term = rest[0]
            term_leaf = self._leaf(term)
            if term_leaf is not None:  # first two operands in one call
                lines.append(_Call(f"np.{op}", (base_leaf, term_leaf), out))
            else:  # the compound operand into out, then the base folded in: 1 - s**2
                self._emit(term, out, lines, None)
                lines.append(_Call(f"np.{op}", (base_leaf, out), out))
            start = 1
        elif base_leaf is None or base == alias:
            self._emit(base, out, lines, alias)
        else:
            lines.append(f"np.copyto({out}, {base_leaf})")
        for op, term in rest[start:]:
            leaf = self._leaf(term)
            if leaf is None:
                tmp = self.temporary()
                self._emit(term, tmp, lines, None)
                lines.append(_Call(f"np.{op}", (out, tmp), out))
                self.release(tmp)
            else:
                lines.append(_Call(f"np.{op}", (out, leaf), out))
        if coefficient == "negate":  # not negative(): wrong on some strided views (NumPy 2.4)
            lines.append(_Call("np.multiply", (out, "-1"), out))
        elif coefficient is not None:
            lines.append(_Call("np.multiply", (out, literal(coefficient)), out))


def _alias_safe(expr: sympy.Expr, alias: sympy.Symbol) -> bool:
    """Whether ``expr`` can be computed into ``alias``'s own buffer.

    True when ``alias`` is read only at the start of a chain of in-place
    operations: ``alias``, f(…) of such, or an Add/Mul where exactly one operand
    reads ``alias`` and that operand is itself safe.
    """
    if expr == alias:
        return True
    if isinstance(expr, Add | Mul | Max | Min):
        reading = [a for a in expr.args if alias in a.free_symbols]
        return len(reading) == 1 and _alias_safe(reading[0], alias)
    if isinstance(expr, tanh | exp | Abs | sign | sigmoid | hard_sigmoid):
        return _alias_safe(expr.args[0], alias)
    if isinstance(expr, Pow) and expr.exp.is_Number:
        return _alias_safe(expr.base, alias)
    return False
