"""One link of a worked example's chain, ``left = right``, checked from the numbers
printed in it (:func:`link_holds`), and the relation (``=`` or ``≈``) each link of a worked
line gets (:func:`line_relations`, :func:`printed_chain`); :mod:`symlstm.render.check`
reads whole rendered examples with it.

>>> link_holds("0.62 × 0.4 + 0.603 × 0.336", "0.248 + 0.203")
True
>>> link_holds("0.09 + 0.20", "0.30")
False"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from symlstm.errors import (
    ArgumentError,
    PrecisionError,
    SymLSTMError,
    UndecidedError,
    UnverifiableError,
)
from symlstm.functions import sigmoid
from symlstm.limits import MAX_CHECK_PREC
from symlstm.numeric.rounding import round_places, stated_places, with_increasing_precision

__all__ = ["APPROX", "EQUAL", "line_relations", "link_holds", "parse_numeric", "printed_chain"]

EQUAL, APPROX = "=", "≈"
#: Largest integer exponent a checked power may have (worked examples print squares).
MAX_EXPONENT = 64


# -- parsing ------------------------------------------------------------------------

_FUNCTIONS = {
    "σ": sigmoid,
    "tanh": sympy.tanh,
    "exp": sympy.exp,
    "max": sympy.Max,
    "min": sympy.Min,
    "Max": sympy.Max,
    "Min": sympy.Min,
    "Abs": sympy.Abs,
}
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<func>σ_hard|σ|tanh|exp|max|min|Max|Min|Abs)(?=\()"
    r"|(?P<op>[-+×·⊙/^()\[\];,|])|(?P<elided>[⋯⋮⋱])|(?P<other>\S))"
)


@dataclass(frozen=True)
class Node:
    """A parsed numeric expression: kind, payload and children."""

    kind: str  # num, add, mul, matmul, hadamard, div, pow, call, mat
    children: tuple[Node, ...] = ()
    value: Fraction | None = None  # num
    places: int = 0  # num: the places it is written to
    name: str = ""  # call: the function's name


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup
        if kind == "other":
            return [("other", m.group(kind))]
        out.append((kind, m.group(kind)))
    return out


class _Parser:
    """Recursive descent over the numeric grammar the package's printers write."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos = tokens, 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (text is not None and tok[1] != text):
            raise SyntaxError(f"expected {text or 'more'}")
        self.pos += 1
        return tok

    def parse(self) -> Node:
        node = self.sum()
        if self.peek() is not None:
            raise SyntaxError("trailing text")
        return node

    def sum(self) -> Node:
        terms = [self.product()]
        while (tok := self.peek()) is not None and tok[1] in "+-":
            self.take()
            term = self.product()
            terms.append(_negate(term) if tok[1] == "-" else term)
        return terms[0] if len(terms) == 1 else Node("add", tuple(terms))

    _PRODUCT_OPS = {"×": "mul", "·": "matmul", "⊙": "hadamard", "/": "div"}

    def product(self) -> Node:
        node = self.unary()
        while True:
            tok = self.peek()
            if tok is not None and tok[1] in self._PRODUCT_OPS:
                self.take()
                kind = self._PRODUCT_OPS[tok[1]]
            elif tok is not None and (tok[0] in ("number", "func") or tok[1] in "([|"):
                kind = "matmul"  # juxtaposition: LaTeX's matrix products
            else:
                return node
            right = self.unary()
            if kind == node.kind and kind in ("mul", "hadamard"):
                node = Node(kind, (*node.children, right))
            else:
                node = Node(kind, (node, right))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[1] == "-":
            self.take()
            return _negate(self.unary())
        if tok is not None and tok[1] == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if (tok := self.peek()) is not None and tok[1] == "^":
            self.take()
            return Node("pow", (base, self.unary()))
        return base

    def atom(self) -> Node:
        self.depth += 1
        if self.depth > 200:
            raise SyntaxError("nested too deeply")
        try:
            kind, text = self.take()
            if kind == "number":
                return Node("num", value=Fraction(text), places=stated_places(text))
            if kind == "elided":
                raise UnverifiableError("elided entries")
            if kind == "func":
                self.take("(")
                args = [self.sum()]
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.sum())
                self.take(")")
                return Node("call", tuple(args), name=text)
            if text == "(":
                node = self.sum()
                self.take(")")
                return node
            if text == "|":
                node = self.sum()
                self.take("|")
                return Node("call", (node,), name="Abs")
            if text == "[":
                return self.matrix()
            raise SyntaxError(f"unexpected {text!r}")
        finally:
            self.depth -= 1

    def matrix(self) -> Node:
        rows: list[tuple[Node, ...]] = []
        row = [self.sum()]
        while True:
            _, text = self.take()
            if text == ",":
                row.append(self.sum())
            elif text in ";]":
                rows.append(tuple(row))
                if text == "]":
                    break
                row = [self.sum()]
            else:
                raise SyntaxError(f"unexpected {text!r} in a matrix")
        if len({len(r) for r in rows}) != 1:
            raise SyntaxError("ragged matrix")
        return Node("mat", tuple(Node("row", r) for r in rows))


def _negate(node: Node) -> Node:
    if node.kind == "num":
        return Node("num", value=-node.value, places=node.places)
    return Node("mul", (Node("num", value=Fraction(-1)), node))


def parse_numeric(text: str) -> Node | None:
    """The expression a link shows, if it is made of numbers only; None otherwise.

    >>> parse_numeric("0.7 × 0.2 + 0.7 × 0.5").kind
    'add'
    >>> parse_numeric("W_f·h_{t-1}") is None
    True
    """
    if not isinstance(text, str):
        raise ArgumentError(f"text must be a string, not {type(text).__name__}")
    tokens = _tokens(text)
    if not tokens or any(kind == "other" for kind, _ in tokens):
        return None
    if any(kind == "elided" for kind, _ in tokens):
        return Node("elided")
    try:
        return _Parser(tokens).parse()
    except (SyntaxError, UnverifiableError):
        return None


# -- values -------------------------------------------------------------------------


def _scalar(node: Node) -> sympy.Expr:
    """The exact SymPy expression of a scalar node (unevaluated: no work done here)."""
    if node.kind == "num":
        return sympy.Rational(node.value.numerator, node.value.denominator)
    raise UnverifiableError(node.kind)


def _value(node: Node) -> sympy.Expr | list[list[sympy.Expr]]:
    """A node's exact value as a SymPy expression, or a matrix of them (lists of rows)."""
    kind = node.kind
    if kind == "num":
        return _scalar(node)
    if kind == "elided":
        raise UnverifiableError("elided entries")
    if kind == "mat":
        rows = [[_value(c) for c in row.children] for row in node.children]
        if any(isinstance(v, list) for r in rows for v in r):
            raise UnverifiableError("nested matrix")
        return rows
    args = [_value(c) for c in node.children]
    with sympy.evaluate(False):
        if kind == "add":
            return _elementwise(lambda *xs: sympy.Add(*xs), args)
        if kind in ("mul", "hadamard"):
            return _elementwise(lambda *xs: sympy.Mul(*xs), args)
        if kind == "div":
            return _elementwise(lambda a, b: sympy.Mul(a, sympy.Pow(b, -1)), args)
        if kind == "pow":
            base, exponent = args
            if isinstance(exponent, list) or not exponent.is_Integer:
                raise UnverifiableError("a power that is not a small integer")
            if abs(int(exponent)) > MAX_EXPONENT:
                raise UnverifiableError("a power too large to check")
            return _elementwise(lambda a: sympy.Pow(a, exponent), [base])
        if kind == "matmul":
            a, b = args
            if isinstance(a, list) and isinstance(b, list):
                if len(a[0]) != len(b):
                    raise UnverifiableError("matrix shapes do not fit")
                return [
                    [
                        sympy.Add(*(a[r][k] * b[k][c] for k in range(len(b))))
                        for c in range(len(b[0]))
                    ]
                    for r in range(len(a))
                ]
            return _elementwise(lambda x, y: sympy.Mul(x, y), args)
        if kind == "call":
            if node.name == "σ_hard":
                # σ_hard is printed alike for every slope (1/5, 1/6): its value cannot be
                # checked from what is shown; its definition on the next line can.
                raise UnverifiableError("σ_hard's slope is not shown")
            func = _FUNCTIONS[node.name]
            return _elementwise(lambda *xs: func(*xs), args)
    raise UnverifiableError(kind)


def _elementwise(fn, args: list) -> sympy.Expr | list[list[sympy.Expr]]:
    shapes = {(len(a), len(a[0])) for a in args if isinstance(a, list)}
    if not shapes:
        return fn(*args)
    if len(shapes) > 1:
        raise UnverifiableError("matrix shapes do not fit")
    rows, cols = shapes.pop()
    return [
        [fn(*(a[r][c] if isinstance(a, list) else a for a in args)) for c in range(cols)]
        for r in range(rows)
    ]


def _entries(value) -> list[sympy.Expr]:
    return [v for row in value for v in row] if isinstance(value, list) else [value]


def _enclose(expr: sympy.Expr, prec: int):
    from symlstm.numeric.evaluation import evaluate_expression, numeric_context

    with numeric_context("interval", prec=prec) as arith:
        try:
            return evaluate_expression(expr, {}, arith)
        except ZeroDivisionError:
            raise UnverifiableError("division by zero") from None


def _holds(left: Node, right: Node, prec: int) -> bool:
    if right.kind == "num" or (
        right.kind == "mat" and all(c.kind == "num" for r in right.children for c in r.children)
    ):
        values = _entries(_value(left))
        shown = [right] if right.kind == "num" else [c for r in right.children for c in r.children]
        if len(values) != len(shown):
            return False
        return all(_rounds_to(v, s, prec) for v, s in zip(values, shown, strict=True))
    same_shape = (
        left.kind == right.kind
        and left.name == right.name
        and len(left.children) == len(right.children)
        and left.kind not in ("num", "mat")
    )
    if same_shape:
        return all(_holds(a, b, prec) for a, b in zip(left.children, right.children, strict=True))
    if left.kind == right.kind == "mat" and len(left.children) == len(right.children):
        pairs = [
            zip(a.children, b.children, strict=True)
            for a, b in zip(left.children, right.children, strict=True)
            if len(a.children) == len(b.children)
        ]
        if len(pairs) == len(left.children):
            return all(_holds(a, b, prec) for row in pairs for a, b in row)
    return _same_number(_value(left), _value(right), prec)


def _rounds_to(expr: sympy.Expr, shown: Node, prec: int) -> bool:
    enc = _enclose(expr, prec)
    if shown.value == 0:
        if enc.exact is not None:
            return enc.exact == 0
        if enc.lo > 0 or enc.hi < 0:
            return False
        raise UndecidedError  # a transcendental value is never exactly 0 unless the trace says so
    return enc.round(places=shown.places) == round_places(shown.value, shown.places)


def _same_number(a, b, prec: int) -> bool:
    xs, ys = _entries(a), _entries(b)
    if len(xs) != len(ys):
        return False
    for x, y in zip(xs, ys, strict=True):
        ex, ey = _enclose(x, prec), _enclose(y, prec)
        if ex.exact is not None and ey.exact is not None:
            if ex.exact != ey.exact:
                return False
        elif ex.hi < ey.lo or ey.hi < ex.lo:
            return False
        elif prec < 256:
            raise UndecidedError  # overlapping at low precision: look closer before saying equal
    return True


def link_verdict(left: Node, right: Node) -> bool | None:
    try:
        return with_increasing_precision(
            lambda prec: _holds(left, right, prec), max_prec=MAX_CHECK_PREC, what="a link"
        )
    except (UnverifiableError, PrecisionError, SymLSTMError, ZeroDivisionError, OverflowError):
        return None


def link_holds(left: str, right: str) -> bool | None:
    """Whether ``left = right`` is true of the numbers shown (text notation).

    None when either side is not made of numbers only, or cannot be checked
    (elided entries, an undecidable rounding).

    >>> link_holds("1/(1 + exp(-0.49))", "0.62"), link_holds("σ(0.49)", "1/(1 + exp(-0.49))")
    (True, True)
    >>> link_holds("1 × 0.652", "0.6525")
    False

    Raises
    ------
    ArgumentError
        If ``left`` or ``right`` is not a string.
    """
    for what, side in (("left", left), ("right", right)):
        if not isinstance(side, str):
            raise ArgumentError(f"{what} must be a string, not {type(side).__name__}")
    a, b = parse_numeric(left), parse_numeric(right)
    if a is None or b is None or "elided" in (a.kind, b.kind):
        return None
    return link_verdict(a, b)


# -- the relations a worked line prints ---------------------------------------------------------

_TEXT_PRINTER: list[Any] = []


def _check_line(line: Any) -> None:
    chain = getattr(line, "chain", None)
    if not isinstance(getattr(line, "lhs", None), sympy.Basic) or not isinstance(chain, tuple):
        raise ArgumentError(f"line must be a worked line (lhs, chain), not {type(line).__name__}")
    if not all(isinstance(e, sympy.Basic) for e in chain):
        raise ArgumentError("a worked line's chain holds SymPy expressions")


def line_relations(line: Any) -> list[str]:
    """``=`` before each link of a worked example's line (``line.lhs``, ``line.chain``) where
    the numbers shown make it true, else ``≈``: :func:`link_holds` on the text form, so every
    format prints the same relations.

    >>> from types import SimpleNamespace
    >>> from sympy import Symbol
    >>> line = SimpleNamespace(lhs=Symbol("c"), chain=(Symbol("0.09 + 0.20"), Symbol("0.30")))
    >>> line_relations(line)
    ['=', '≈']
    """
    from symlstm.render.printers import LSTMTextPrinter

    _check_line(line)
    if not _TEXT_PRINTER:
        _TEXT_PRINTER.append(LSTMTextPrinter({"notation": "canonical"}))
    texts = [_TEXT_PRINTER[0].doprint(e) for e in (line.lhs, *line.chain)]
    return [
        APPROX if link_holds(left, right) is False else EQUAL
        for left, right in itertools.pairwise(texts)
    ]


def printed_chain(printer: Any, line: Any) -> tuple[str, list[tuple[str, str]]]:
    """A worked line printed by ``printer``: its left side, and each link with the relation
    before it (:func:`line_relations`), without a link that repeats the one before it."""
    _check_line(line)
    if not callable(getattr(printer, "doprint", None)):
        raise ArgumentError(f"printer must be a SymPy printer, not {type(printer).__name__}")
    lhs, parts = printer.doprint(line.lhs), [printer.doprint(e) for e in line.chain]
    kept = [
        (rel, p)
        for k, (rel, p) in enumerate(zip(line_relations(line), parts, strict=True))
        if p != (parts[k - 1] if k else lhs)
    ]
    return lhs, kept
