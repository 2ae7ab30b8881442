"""Presentation MathML for LSTM expressions, in a chosen :class:`~symlstm.symbols.Notation`.

:class:`LSTMMathMLPrinter` subclasses SymPy's ``MathMLPresentationPrinter`` the way
:mod:`symlstm.render.printers` subclasses the LaTeX and text printers: symbols are
named from the notation's tables, element-wise products print as ⊙, σ as σ(z), and a
worked example's displayed numbers (:class:`~symlstm.render.worked_lines.Shown`) as the
numbers they are, with × between them. Only MathML Core elements are written, so
current browsers render it without any script.

>>> from symlstm.cell import Cell
>>> eq = Cell("tied").equations(inline=True)[0]
>>> mathml(eq.lhs, notation="spec")
'<msub><mi>f</mi><mi>t</mi></msub>'
>>> from sympy import Symbol
>>> from symlstm.functions import sigmoid
>>> mathml(sigmoid(Symbol("z")))  # σ(z), σ written as a character reference
'<mrow><mi>&#963;</mi><mrow><mo>(</mo><mrow><mi>z</mi></mrow><mo>)</mo></mrow></mrow>'

"""

from __future__ import annotations

import re
from html import escape
from typing import Any
from xml.dom.minidom import Element

import sympy
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE

from symlstm.errors import ArgumentError
from symlstm.render.printers import ElementwiseBodies, all_shown, shown_as, shown_precedence
from symlstm.symbols import Notation
from symlstm.symbols import notation as get_notation

__all__ = ["LSTMMathMLPrinter", "mathml", "name_mathml"]

_FUNCTION_NAMES = ("tanh", "exp", "sigmoid", "max", "min")


def name_mathml(name: str) -> str:
    """A text-notation name as MathML: ``h_{t-1}`` → ``<msub><mi>h</mi>…``.

    Handles what the notations use: a base (with a leading δ or a combining accent),
    a subscript (one token or braced), a superscript (``^next``) and a function around
    a name (``tanh(C_t)``).

    >>> name_mathml("h_{t-1}")
    '<msub><mi>h</mi><mrow><mi>t</mi><mo>−</mo><mn>1</mn></mrow></msub>'
    >>> name_mathml("δC_t^next")
    '<mrow><mi>δ</mi><msubsup><mi>C</mi><mi>t</mi><mi>next</mi></msubsup></mrow>'
    """
    if not isinstance(name, str):
        raise ArgumentError(f"name must be a string, not {type(name).__name__}")
    prefix = ""
    if name.startswith("δ") and len(name) > 1:
        prefix, name = "<mi>δ</mi>", name[1:]
    m = re.fullmatch(r"(\w+)\((.*)\)", name)
    if m and m.group(1) in ("tanh", "sigmoid", "σ"):
        call = f"<mi>{m.group(1)}</mi><mo>(</mo>{name_mathml(m.group(2))}<mo>)</mo>"
        return f"<mrow>{prefix}{call}</mrow>"
    m = re.fullmatch(r"([^_^]+)(?:_(\{[^{}]*\}|[^_^{}]+))?(?:\^(\{[^{}]*\}|[^_^{}]+))?", name)
    if m is None:
        body = f"<mi>{escape(name)}</mi>"
    else:
        base = f"<mi>{escape(m.group(1))}</mi>"
        if m.group(1).endswith("\u0303"):  # C̃: C with a tilde accent over it
            base = f'<mover accent="true"><mi>{escape(m.group(1)[:-1])}</mi><mo>~</mo></mover>'

        sub, sup = (_script(g) if g else None for g in (m.group(2), m.group(3)))
        if sub and sup:
            body = f"<msubsup>{base}{sub}{sup}</msubsup>"
        elif sub:
            body = f"<msub>{base}{sub}</msub>"
        elif sup:
            body = f"<msup>{base}{sup}</msup>"
        else:
            body = base
    return f"<mrow>{prefix}{body}</mrow>" if prefix else body


def _script(text: str) -> str:
    """A subscript's tokens: ``t-1`` → t − 1, ``f,t`` → f , t."""
    text = text.strip("{}")
    tokens = re.findall(r"\d+|[A-Za-z]+|[^\sA-Za-z\d]", text)
    parts = []
    for tok in tokens:
        if tok.isdigit():
            parts.append(f"<mn>{tok}</mn>")
        elif tok in "-+,":
            parts.append(f"<mo>{'−' if tok == '-' else tok}</mo>")
        else:
            parts.append(f"<mi>{escape(tok)}</mi>")
    return parts[0] if len(parts) == 1 else f"<mrow>{''.join(parts)}</mrow>"


class LSTMMathMLPrinter(ElementwiseBodies, MathMLPresentationPrinter):
    """Presentation MathML in a notation: ``LSTMMathMLPrinter({"notation": "spec"})``."""

    _default_settings = {**MathMLPresentationPrinter._default_settings, "notation": "canonical"}

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({"order": "none", **(settings or {})})
        self._notation: Notation = get_notation(self._settings["notation"])

    # -- helpers -----------------------------------------------------------------------

    def _parse(self, markup: str) -> Element:
        from xml.dom.minidom import parseString

        node = parseString(f"<r>{markup}</r>").documentElement.firstChild
        return self.dom.importNode(node, True)

    def _mo(self, text: str) -> Element:
        mo = self.dom.createElement("mo")
        mo.appendChild(self.dom.createTextNode(text))
        return mo

    def _row(self, *nodes: Element) -> Element:
        row = self.dom.createElement("mrow")
        for node in nodes:
            row.appendChild(node)
        return row

    def _parenthesized(self, node: Element) -> Element:
        return self._row(self._mo("("), node, self._mo(")"))

    def _paren(self, expr: Any, level: int) -> Element:
        node = self._print(shown_as(expr))
        if shown_precedence(expr) < level:
            return self._parenthesized(node)
        return node

    def _joined(self, args: Any, op: str) -> Element:
        row = self.dom.createElement("mrow")
        for k, arg in enumerate(args):
            if k:
                row.appendChild(self._mo(op))
            row.appendChild(self._paren(arg, PRECEDENCE["Mul"]))
        return row

    # -- nodes -------------------------------------------------------------------------

    def _print_Symbol(self, sym: Any, style: str = "plain") -> Element:
        if getattr(sym, "is_shown", False):
            return self._shown(sym.name)
        name = self._notation.text.get(sym.name)
        if name is not None:
            return self._parse(name_mathml(name))
        return super()._print_Symbol(sym, style)

    def _print_MatrixSymbol(self, sym: Any) -> Element:
        name = self._notation.text.get(sym.name)
        if name is not None:
            return self._parse(name_mathml(name))
        return super()._print_MatrixSymbol(sym)

    def _shown(self, text: str) -> Element:
        """A displayed number: ``-0.2`` as − 0.2, ⋯ ⋮ ⋱ as operators."""
        if text in ("⋯", "⋮", "⋱"):
            return self._mo(text)
        if text.startswith("-"):
            return self._row(self._mo("−"), self._shown(text[1:]))
        mn = self.dom.createElement("mn")
        mn.appendChild(self.dom.createTextNode(text))
        return mn

    def _print_Dummy(self, expr: Any, *args: Any, **kwargs: Any) -> Element:
        if expr in self._bound:
            return self._bound[expr].cloneNode(True)  # a DOM node can sit in one place only
        return super()._print_Symbol(expr)

    def _print_Mul(self, expr: Any) -> Element:
        if all_shown(expr):
            return self._joined(expr.args, "×")
        args = list(expr.args)
        if any(a.is_Pow and a.exp.is_negative for a in args) or any(
            a.is_Rational for a in args[1:]
        ):
            return super()._print_Mul(expr)  # fractions as SymPy sets them
        row = self.dom.createElement("mrow")
        if args[0] == -1:  # −x, not (−1) x
            row.appendChild(self._mo("−"))
            args = args[1:]
        for k, arg in enumerate(args):  # the textbook order, as the LaTeX printer keeps it
            if k:
                row.appendChild(self._mo("\u2062"))
            row.appendChild(self._paren(arg, PRECEDENCE["Mul"]))
        return row

    def _print_HadamardProduct(self, expr: Any) -> Element:
        return self._joined(expr.args, "⊙")

    def _print_MatMul(self, expr: Any) -> Element:
        args = list(expr.args)
        row = self.dom.createElement("mrow")
        if args[0] == -1:
            row.appendChild(self._mo("−"))
            args = args[1:]
        for k, arg in enumerate(args):
            if k:
                row.appendChild(self._mo("\u2062"))  # invisible times
            row.appendChild(self._paren(arg, PRECEDENCE["Mul"]))
        return row

    def _print_MatAdd(self, expr: Any) -> Element:
        row = self.dom.createElement("mrow")
        for k, arg in enumerate(expr.args):
            negated = isinstance(arg, sympy.MatMul) and arg.args[0] == -1
            if negated:  # 1 − o, not 1 + −o
                arg = sympy.MatMul(*arg.args[1:])
                row.appendChild(self._mo("−"))
            elif k:
                row.appendChild(self._mo("+"))
            row.appendChild(self._paren(arg, PRECEDENCE["Add"]))
        return row

    def _print_OneMatrix(self, expr: Any) -> Element:
        return self._shown("1")

    def _call(self, name: str, *args: Any) -> Element:
        inner = self.dom.createElement("mrow")
        for k, arg in enumerate(args):
            if k:
                inner.appendChild(self._mo(","))
            inner.appendChild(self._print(arg))
        mi = self.dom.createElement("mi")
        mi.appendChild(self.dom.createTextNode(name))
        return self._row(mi, self._parenthesized(inner))

    def _print_sigmoid(self, expr: Any) -> Element:
        return self._call("σ", expr.args[0])

    def _print_exp(self, expr: Any) -> Element:
        sup = self.dom.createElement("msup")
        mi = self.dom.createElement("mi")
        mi.appendChild(self.dom.createTextNode("e"))
        sup.appendChild(mi)
        sup.appendChild(self._print(expr.args[0]))
        return sup

    def _print_hard_sigmoid(self, expr: Any) -> Element:
        return self._call("σ_hard", expr.args[0])

    def _print_tanh(self, expr: Any) -> Element:
        return self._call("tanh", expr.args[0])

    def _print_MatrixBase(self, expr: Any) -> Element:
        table = self.dom.createElement("mtable")
        for r in range(expr.rows):
            tr = self.dom.createElement("mtr")
            for c in range(expr.cols):
                td = self.dom.createElement("mtd")
                td.appendChild(self._print(expr[r, c]))
                tr.appendChild(td)
            table.appendChild(tr)
        return self._row(self._mo("["), table, self._mo("]"))

    _print_ImmutableDenseMatrix = _print_MatrixBase
    _print_MutableDenseMatrix = _print_MatrixBase

    def _print_Transpose(self, expr: Any) -> Element:
        sup = self.dom.createElement("msup")
        sup.appendChild(self._paren(expr.arg, PRECEDENCE["Pow"]))
        mi = self.dom.createElement("mi")
        mi.appendChild(self.dom.createTextNode("T"))
        sup.appendChild(mi)
        return sup

    def doprint(self, expr: Any) -> str:
        # a real minus sign (SymPy writes the ASCII hyphen-minus in sums and exponents)
        return super().doprint(expr).replace("<mo>-</mo>", "<mo>&#8722;</mo>")


def mathml(expr: sympy.Basic, *, notation: str | Notation = "canonical", **settings: Any) -> str:
    """Presentation MathML (the content of a ``<math>`` element) of an LSTM expression."""
    if not isinstance(expr, sympy.Basic):
        raise ArgumentError(f"expr must be a SymPy expression, not {type(expr).__name__}")
    return LSTMMathMLPrinter({"notation": notation, **settings}).doprint(expr)
