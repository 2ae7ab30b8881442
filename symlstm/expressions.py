"""User expressions (losses, claim quantities): bounded parsing and checked evaluation.

A loss such as ``h_3**2 - 3*h_1`` or a claim quantity such as ``100*c`` is text
from outside. :func:`parse_expression` reads it with its own small parser (no
``eval``, no :func:`sympy.sympify`) and refuses, in well under a second and with
one line that names the expression, anything beyond the limits below: control
or non-ASCII characters, too long or too deeply nested text, too many tokens,
power exponents that are not small whole numbers, numbers with too many digits
or too large a decimal exponent, functions nested too deeply, exact constants
too large to compute quickly. A division by a quantity SymPy would cancel
(``h_1/h_1``, ``h_1**2/h_1``) is refused too: the cancelled form would be
certified where the written one is undefined.

:func:`evaluate_checked` evaluates such an expression at numbers (exact, mpmath
or interval values) and refuses, with :class:`~symlstm.errors.UndefinedError`,
a division by zero, the logarithm of a number that is not positive, and any
value beyond float64's range (:class:`~symlstm.errors.RangeError`). With
interval values a sign that the enclosure cannot decide raises
:class:`~symlstm.errors.UndecidedError`, so that the caller raises the precision.

>>> from sympy import Symbol, exp
>>> h = Symbol("h_1", real=True)
>>> parse_expression("2*h_1**2 - exp(h_1)", symbols={"h_1": h}, functions={"exp": exp})
2*h_1**2 - exp(h_1)
>>> parse_expression("1/(h_1 - h_1)", symbols={"h_1": h}, functions={}, what="the loss")
Traceback (most recent call last):
...
symlstm.errors.UndefinedError: the loss '1/(h_1 - h_1)' is undefined (division by zero: ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mpmath
import sympy

from symlstm.errors import (
    ArgumentError,
    ExpressionError,
    RangeError,
    SymLSTMError,
    UndecidedError,
    UndefinedError,
    UnknownNameError,
)
from symlstm.limits import (
    MAX_CONSTANT_BITS,
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_NODES,
    MAX_EXPRESSION_NUMBER_DIGITS,
    MAX_EXPRESSION_NUMBER_EXPONENT,
    MAX_EXPRESSION_TOKENS,
    MAX_FUNCTION_NESTING,
    MAX_POWER_EXPONENT,
)
from symlstm.numeric.compile import Guard, compile_expression
from symlstm.numeric.exact import FLOAT64_MAX

__all__ = [
    "MAX_CHARS",
    "MAX_CONSTANT_BITS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_FUNCTION_NESTING",
    "MAX_NUMBER_DIGITS",
    "MAX_NUMBER_EXPONENT",
    "MAX_TOKENS",
    "check_expression",
    "elide",
    "evaluate_checked",
    "parse_expression",
]

#: Characters in an expression's text.
MAX_CHARS = MAX_EXPRESSION_CHARS  # one table: symlstm.limits
#: Tokens (names, numbers, operators, parentheses) in an expression.
MAX_TOKENS = MAX_EXPRESSION_TOKENS  # one table: symlstm.limits
#: Nesting of parentheses and function calls.
MAX_DEPTH = MAX_EXPRESSION_DEPTH  # one table: symlstm.limits
#: The largest ``|n|`` of a power ``a**n``; ``n`` must be a whole number.
MAX_EXPONENT = MAX_POWER_EXPONENT  # one table: symlstm.limits
#: Functions applied inside functions (``exp(exp(exp(h)))`` is 3).
#: Digits in one number (``0.123`` has 4).
MAX_NUMBER_DIGITS = MAX_EXPRESSION_NUMBER_DIGITS  # one table: symlstm.limits
#: The largest ``|e|`` of a number written ``1.5e-300``.
MAX_NUMBER_EXPONENT = MAX_EXPRESSION_NUMBER_EXPONENT  # one table: symlstm.limits
#: Bits of an exact constant the parser computes (``9**64`` has 203).
#: Nodes of a SymPy expression passed in directly (the Python API).
MAX_NODES = MAX_EXPRESSION_NODES  # one table: symlstm.limits

_FLOAT64_MAX = Fraction(FLOAT64_MAX)
_MPF_MAX = mpmath.mpf(float(FLOAT64_MAX))
_TOKEN = re.compile(
    r" *(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>\*\*|[-+*/()]))",
    re.ASCII,
)


def elide(text: str, keep: int = 24) -> str:
    """``text`` quoted, shortened to its first and last ``keep`` characters when long.

    >>> elide("h_1")
    "'h_1'"
    >>> elide("-" * 5000 + "h_1")
    "'------------------------…---------------------h_1' (5003 characters)"
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ArgumentError(f"keep must be a positive integer, not {keep!r}")
    if not isinstance(text, str):
        text = str(text)
    if len(text) <= 2 * keep + 10:
        return repr(text)
    return f"{text[:keep]!r}"[:-1] + "…" + f"{text[-keep:]!r}"[1:] + f" ({len(text)} characters)"


@dataclass
class _Parser:
    text: str
    symbols: Mapping[str, sympy.Expr]
    functions: Mapping[str, Callable[[sympy.Expr], sympy.Expr]]
    what: str
    tokens: list[tuple[str, str, int]] = field(default_factory=list)
    pos: int = 0
    denominators: list[sympy.Expr] = field(default_factory=list)
    log_arguments: list[sympy.Expr] = field(default_factory=list)

    def fail(self, problem: str, cls: type[SymLSTMError] = ExpressionError) -> SymLSTMError:
        joint = " " if problem.startswith("is ") else ": "
        return cls(f"{self.what} {elide(self.text)}{joint}{problem}")

    def tokenize(self) -> None:
        text = self.text
        for k, ch in enumerate(text):
            if not " " <= ch <= "~":
                kind = "a control character" if ch.isascii() or not ch.isprintable() else ""
                kind = kind or f"the non-ASCII character {ch!r}"
                raise self.fail(f"{kind} (U+{ord(ch):04X}) at position {k + 1}")
        pos, end = 0, len(text)
        while pos < end:
            if text[pos:].strip(" ") == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise self.fail(f"unexpected character {text[pos:].lstrip(' ')[0]!r}")
            kind = m.lastgroup or "op"
            start = m.start(kind)
            self.tokens.append((kind, m.group(kind), start))
            if len(self.tokens) > MAX_TOKENS:
                raise self.fail(f"more than {MAX_TOKENS} tokens")
            pos = m.end()
        if not self.tokens:
            raise self.fail("empty")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] == value:
            self.pos += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.take(value):
            token = self.peek()
            got = "the end" if token is None else f"{token[1]!r} at position {token[2] + 1}"
            raise self.fail(f"expected {value!r}, found {got}")

    # expression := term (("+" | "-") term)*
    def expression(self, depth: int, nesting: int) -> sympy.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} deep")
        terms = [self.term(depth, nesting)]
        while True:
            if self.take("+"):
                terms.append(self.term(depth, nesting))
            elif self.take("-"):
                terms.append(-self.term(depth, nesting))
            else:
                return sympy.Add(*terms)

    # term := unary (("*" | "/") unary)*
    def term(self, depth: int, nesting: int) -> sympy.Expr:
        factors = [self.unary(depth, nesting)]
        while True:
            if self.take("*"):
                factors.append(self.unary(depth, nesting))
            elif self.take("/"):
                start = self.source_position()
                divisor = self.unary(depth, nesting)
                source = self.text[start : self.source_position()].strip()
                factors.append(self.power(divisor, -1, source))
            else:
                return self.product(factors)

    def product(self, factors: list[sympy.Expr]) -> sympy.Expr:
        bits = sum(_bits(f) for f in factors if f.is_Rational)
        if bits > MAX_CONSTANT_BITS * 4:
            raise self.fail(f"a constant of more than {MAX_CONSTANT_BITS * 4} bits")
        return sympy.Mul(*factors)

    # unary := ("+" | "-")* power ; power := atom ("**" unary)?
    def unary(self, depth: int, nesting: int) -> sympy.Expr:
        negative = False
        while True:
            if self.take("-"):
                negative = not negative
            elif not self.take("+"):
                break
        start = self.source_position()
        base = self.atom(depth, nesting)
        source = self.text[start : self.source_position()].strip()
        if self.take("**"):
            exponent = self.unary(depth + 1, nesting)
            if not exponent.is_Integer or abs(int(exponent)) > MAX_EXPONENT:
                raise self.fail(
                    f"a power's exponent must be a whole number from {-MAX_EXPONENT} to "
                    f"{MAX_EXPONENT}, not {elide(str(exponent))}"
                )
            base = self.power(base, int(exponent), source)
        return -base if negative else base

    def source_position(self) -> int:
        token = self.peek()
        return token[2] if token is not None else len(self.text)

    def power(self, base: sympy.Expr, n: int, source: str = "") -> sympy.Expr:
        if n < 0 and base.is_zero:
            shown = elide(source or str(base))[1:-1]
            raise self.fail(f"is undefined (division by zero: {shown} is 0)", UndefinedError)
        if base.is_Rational and _bits(base) * abs(n) > MAX_CONSTANT_BITS:
            raise self.fail(f"the constant {elide(str(base))}**{n} has too many digits")
        result = sympy.Pow(base, n)
        for p in sympy.preorder_traversal(result):
            if p.is_Pow and p.exp.is_Integer and abs(int(p.exp)) > MAX_EXPONENT:
                raise self.fail(f"the power {elide(str(p))} exceeds the exponent {MAX_EXPONENT}")
            if p.is_Pow and p.exp.is_negative and not p.base.is_Number:
                self.denominators.append(p.base)
        return result

    def atom(self, depth: int, nesting: int) -> sympy.Expr:
        token = self.peek()
        if token is None:
            raise self.fail("ends where a number, name or '(' was expected")
        kind, value, start = token
        self.pos += 1
        if kind == "number":
            return self.number(value)
        if kind == "name":
            if value in self.functions:
                if not self.take("("):
                    raise self.fail(f"the function {value} needs an argument: {value}(…)")
                if nesting + 1 > MAX_FUNCTION_NESTING:
                    raise self.fail(f"functions nested more than {MAX_FUNCTION_NESTING} deep")
                argument = self.expression(depth + 1, nesting + 1)
                self.expect(")")
                return self.apply(value, argument)
            if value in self.symbols:
                if self.take("("):
                    raise self.fail(f"{value} is not a function")
                return self.symbols[value]
            known = ", ".join([*self.symbols, *self.functions])
            raise self.fail(f"unknown name {value!r}; known: {known}", UnknownNameError)
        if value == "(":
            inner = self.expression(depth + 1, nesting)
            self.expect(")")
            return inner
        raise self.fail(f"unexpected {value!r} at position {start + 1}")

    def number(self, text: str) -> sympy.Rational:
        mantissa, _, exponent = text.lower().partition("e")
        digits = mantissa.replace(".", "")
        if len(digits.lstrip("0")) > MAX_NUMBER_DIGITS:
            raise self.fail(f"the number {elide(text)} has more than {MAX_NUMBER_DIGITS} digits")
        scale = 0
        if exponent:
            if len(exponent.lstrip("+-").lstrip("0")) > 4 or abs(int(exponent)) > (
                MAX_NUMBER_EXPONENT
            ):
                raise self.fail(
                    f"the number {elide(text)} has an exponent beyond ±{MAX_NUMBER_EXPONENT}"
                )
            scale = int(exponent)
        whole, _, frac = mantissa.partition(".")
        value = Fraction(int(whole + frac or "0")) * Fraction(10) ** (scale - len(frac))
        return sympy.Rational(value.numerator, value.denominator)

    def apply(self, name: str, argument: sympy.Expr) -> sympy.Expr:
        if name == "log":
            if argument.is_number and argument.is_real and not argument.is_positive:
                reason = "logarithm of 0" if argument.is_zero else "logarithm of a negative number"
                raise self.fail(f"is undefined ({reason})", UndefinedError)
            if not argument.is_positive:
                self.log_arguments.append(argument)
        return self.functions[name](argument)

    def parse(self) -> sympy.Expr:
        self.tokenize()
        expr = self.expression(0, 0)
        token = self.peek()
        if token is not None:
            raise self.fail(f"unexpected {token[1]!r} at position {token[2] + 1}")
        _check_result(expr, self.fail)
        nodes = list(sympy.preorder_traversal(expr))
        for d in self.denominators:
            if not d.is_nonzero and not any(
                p.is_Pow and p.base == d and p.exp.is_negative for p in nodes
            ):
                raise self.fail(
                    f"divides by {elide(str(d))}, which SymPy cancels; the quantity written is "
                    "undefined where that is 0: write it without the division"
                )
        for a in self.log_arguments:
            if not any(isinstance(p, sympy.log) and p.args[0] == a for p in nodes):
                raise self.fail(
                    f"takes the logarithm of {elide(str(a))}, which SymPy cancels; the quantity "
                    "written is undefined where that is not positive: write it without the log"
                )
        return expr


def _bits(r: sympy.Rational) -> int:
    return int(r.p).bit_length() + int(r.q).bit_length()


def _check_result(expr: sympy.Expr, fail: Callable[..., SymLSTMError]) -> None:
    if expr.has(sympy.zoo, sympy.nan):
        raise fail("is undefined (division by zero or 0/0)", UndefinedError)
    if expr.has(sympy.oo, -sympy.oo):
        raise fail("is infinite", UndefinedError)
    if expr.has(sympy.I):
        raise fail("is complex, not real", UndefinedError)


def parse_expression(
    text: str,
    *,
    symbols: Mapping[str, sympy.Expr],
    functions: Mapping[str, Callable[[sympy.Expr], sympy.Expr]],
    what: str = "the expression",
) -> sympy.Expr:
    """Parse arithmetic of names, numbers and one-argument functions, within the limits.

    The grammar is Python's: ``+ - * / **`` and parentheses; ``**`` binds tighter
    than a unary minus (``-h**2`` is ``-(h**2)``) and its exponent must be a whole
    number. Numbers are read exactly (``0.1`` is 1/10).

    Parameters
    ----------
    text
        The expression.
    symbols
        The names it may use, each with its SymPy symbol.
    functions
        The functions it may call (``exp``, ``log``, ``tanh``, ``sigmoid``).
    what
        How messages name it (``"the loss"``).

    Raises
    ------
    ExpressionError
        Malformed, or beyond a limit (:data:`MAX_CHARS` …); its subclass
        :class:`~symlstm.errors.UndefinedError` if it is undefined everywhere
        (``1/(h - h)``, ``log(0)``).
    UnknownNameError
        A name that is neither a symbol nor a function.
    ArgumentError
        ``text`` is not a string.

    >>> from sympy import Symbol, tanh
    >>> h = Symbol("h")
    >>> parse_expression("-h**2 + 0.5e1", symbols={"h": h}, functions={"tanh": tanh})
    5 - h**2
    >>> parse_expression("h**1000000", symbols={"h": h}, functions={})
    Traceback (most recent call last):
    ...
    symlstm.errors.ExpressionError: the expression 'h**1000000': a power's exponent must be ...
    """
    if not isinstance(text, str):
        raise ArgumentError(f"{what} must be a string, not {type(text).__name__}")
    for name, table in (("symbols", symbols), ("functions", functions)):
        if not isinstance(table, Mapping) or not all(isinstance(k, str) for k in table):
            raise ArgumentError(f"{name} must be a mapping from names to SymPy objects")
    if not isinstance(what, str):
        raise ArgumentError(f"what must be a string, not {type(what).__name__}")
    if len(text) > MAX_CHARS:
        raise ExpressionError(f"{what} {elide(text)} is longer than {MAX_CHARS} characters")
    try:
        return _Parser(text, symbols, functions, what).parse()
    except RecursionError:  # not expected within MAX_DEPTH; a last guard
        raise ExpressionError(f"{what} {elide(text)} is nested too deeply") from None


def check_expression(expr: Any, *, what: str = "the expression") -> sympy.Expr:
    """Check a SymPy expression given directly (not as text) against the same limits.

    At most :data:`MAX_NODES` nodes, whole-number powers up to :data:`MAX_EXPONENT`
    (summed powers of one base, ``h**64 * h**64``, are allowed), nothing undefined.

    >>> from sympy import Symbol, zoo
    >>> check_expression(Symbol("h") ** 2)
    h**2
    >>> check_expression(zoo * Symbol("h"))
    Traceback (most recent call last):
    ...
    symlstm.errors.UndefinedError: the expression zoo*h: is undefined (division by zero or 0/0)
    """
    if not isinstance(expr, sympy.Expr):
        raise ArgumentError(f"{what} must be a SymPy expression, not {type(expr).__name__}")

    def fail(problem: str, cls: type[SymLSTMError] = ExpressionError) -> SymLSTMError:
        return cls(f"{what} {elide(str(expr))[1:-1] if len(str(expr)) < 80 else ''}: {problem}")

    stack, count = [expr], 0
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise fail(f"more than {MAX_NODES} nodes")
        if node.is_Pow and (
            not node.exp.is_Integer or abs(int(node.exp)) > MAX_EXPONENT * MAX_TOKENS
        ):
            raise fail(f"the power {elide(str(node))} is not a small whole power")
        stack.extend(node.args)
    _check_result(expr, fail)
    return expr


# -- checked evaluation --------------------------------------------------------------------


def _endpoints(value: Any) -> tuple[mpmath.mpf, mpmath.mpf]:
    lo, hi = value.interval._mpi_
    return mpmath.mp.make_mpf(lo), mpmath.mp.make_mpf(hi)


def _sign(value: Any) -> int:
    """-1, 0 or 1; :class:`UndecidedError` for an enclosure that straddles 0."""
    if isinstance(value, sympy.Basic):
        if value.is_zero:
            return 0
        if value.is_positive:
            return 1
        if value.is_negative:
            return -1
        approx = sympy.N(value, 60)
        if approx.is_Number and abs(approx) > sympy.Float("1e-50", 60):
            return 1 if approx > 0 else -1
        raise SymLSTMError(f"cannot decide the sign of {elide(str(value))} exactly")
    if isinstance(value, mpmath.mpf):
        return int(mpmath.sign(value))
    if getattr(value, "exact", None) is not None:
        return (value.exact > 0) - (value.exact < 0)
    lo, hi = _endpoints(value)
    if lo > 0:
        return 1
    if hi < 0:
        return -1
    if lo == hi == 0:
        return 0
    raise UndecidedError


def _check_finite(value: Any, fail: Callable[..., SymLSTMError]) -> Any:
    if isinstance(value, sympy.Basic):
        _check_result(value, fail)
        return value
    if isinstance(value, mpmath.mpf):
        lo = hi = value
    elif getattr(value, "exact", None) is not None:
        if abs(value.exact) > _FLOAT64_MAX:
            raise fail("is beyond float64's range (|value| > 1.8e308)", RangeError)
        return value
    else:
        lo, hi = _endpoints(value)
    if mpmath.isnan(lo) or mpmath.isnan(hi):
        raise fail("is undefined (NaN)", UndefinedError)
    bound = _MPF_MAX
    if not (-bound <= lo and hi <= bound):
        if lo > bound or hi < -bound or mpmath.isinf(lo) or mpmath.isinf(hi):
            raise fail("is infinite or beyond float64's range (|value| > 1.8e308)", RangeError)
        raise UndecidedError
    return value


def evaluate_checked(
    expr: sympy.Expr,
    env: Mapping[sympy.Expr, Any],
    arith: Any,
    *,
    what: str = "the expression",
    where: str = "at the example's values",
) -> Any:
    """Evaluate ``expr`` in the context ``arith`` by the package's one compiler
    (:func:`symlstm.numeric.compile.compile_expression`), refusing what is undefined as it
    runs (a :class:`~symlstm.numeric.compile.Guard`): a division by zero, the logarithm
    of a number that is not positive, a value beyond float64's range.

    ``arith`` is an arithmetic from :func:`symlstm.numeric.evaluation.numeric_context`. With
    interval values a sign the enclosure cannot decide raises
    :class:`~symlstm.errors.UndecidedError` (raise the precision and retry).

    >>> from sympy import Symbol, Rational
    >>> from symlstm.numeric.evaluation import numeric_context
    >>> h = Symbol("h")
    >>> with numeric_context("interval", prec=64) as arith:
    ...     evaluate_checked(1 / (h - 1), {h: arith.const(Rational(1, 2))}, arith).exact
    Fraction(-2, 1)
    >>> with numeric_context("interval", prec=64) as arith:
    ...     evaluate_checked(1 / (h - 1), {h: arith.const(Rational(1))}, arith, what="the loss")
    Traceback (most recent call last):
    ...
    symlstm.errors.UndefinedError: the loss 1/(h - 1) is undefined (division by zero: ...
    """
    if not isinstance(expr, sympy.Expr):
        raise ArgumentError(f"expr must be a SymPy expression, not {type(expr).__name__}")
    if not isinstance(env, Mapping):
        raise ArgumentError(f"env must be a mapping of symbols to values, not {type(env).__name__}")
    if not all(hasattr(arith, op) for op in ("const", "add", "mul", "power", "function")):
        raise ArgumentError(
            "arith must be an arithmetic from symlstm.numeric.evaluation.numeric_context"
        )
    if not isinstance(what, str) or not isinstance(where, str):
        raise ArgumentError("what and where must be strings")
    text = str(expr)
    shown = elide(text)[1:-1] if len(text) <= 60 else elide(text)

    def fail(problem: str, cls: type[SymLSTMError] = UndefinedError) -> SymLSTMError:
        return cls(f"{what} {shown} {problem} {where}")

    try:
        run = compile_expression(expr, arith, guard=_Defined(fail))
        return run(env)
    except RecursionError:
        raise ExpressionError(f"{what} is nested too deeply to evaluate") from None
    except (ZeroDivisionError, OverflowError, ValueError) as err:
        if isinstance(err, SymLSTMError):
            raise
        raise fail(f"is undefined ({err})") from None


class _Defined(Guard):
    """evaluate_checked's checks, as the compiled expression runs: every value finite and
    within float64's range, no division by zero, no logarithm of a number that is not
    positive, only what the compiler computes."""

    def __init__(self, fail: Callable[..., SymLSTMError]) -> None:
        self.fail = fail

    def value(self, node: sympy.Basic, value: Any) -> None:
        _check_finite(value, self.fail)

    def divisor(self, node: sympy.Pow, base: Any) -> None:
        if _sign(base) == 0:
            raise self.fail(f"is undefined (division by zero: {node.base} is 0)")

    def logarithm(self, node: sympy.log, argument: Any) -> None:
        sign = _sign(argument)
        if sign <= 0:
            reason = "logarithm of 0" if sign == 0 else "logarithm of a negative number"
            shown_sign = "0" if sign == 0 else "< 0"
            raise self.fail(f"is undefined ({reason}: {node.args[0]} is {shown_sign})")

    def unsupported(self, node: sympy.Basic) -> None:
        raise self.fail(
            f"cannot be evaluated: {type(node).__name__} is not supported", ExpressionError
        )
