"""Activation functions as SymPy ``Function`` subclasses, and the table of activations.

SymPy has no sigmoid, so one is defined here with its derivative in the familiar
form σ' = σ(1 − σ), its LaTeX form σ(x), exact values where SymPy can give them,
and an ``exp`` rewrite for the worked examples' ``1/(1 + e^{−x})`` line.

>>> from sympy import Symbol, diff
>>> x = Symbol("x")
>>> diff(sigmoid(x), x)
(1 - sigmoid(x))*sigmoid(x)
>>> sigmoid(x).rewrite("exp")
1/(1 + exp(-x))
>>> sigmoid(0)
1/2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy
from sympy import Abs, Function, Max, Min, Piecewise, S, exp, tanh
from sympy.core.function import ArgumentIndexError

from symlstm.errors import ArgumentError, UnknownNameError

__all__ = ["ACTIVATIONS", "Activation", "activation", "hard_sigmoid", "sigmoid"]


class sigmoid(Function):
    r"""The logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`.

    >>> from sympy import latex, Rational
    >>> latex(sigmoid(Rational(49, 100)))
    '\\sigma\\left(\\frac{49}{100}\\right)'
    >>> sigmoid(Rational(49, 100)).evalf(10)
    0.6201064323
    """

    is_real = True

    @classmethod
    def eval(cls, x):
        if x is S.Zero:
            return S.Half
        if x is S.Infinity:
            return S.One
        if x is S.NegativeInfinity:
            return S.Zero
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + exp(-x))

    def _eval_is_positive(self):
        return self.args[0].is_extended_real

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        base = rf"\sigma\left({arg}\right)"
        return rf"{base}^{{{exp}}}" if exp is not None else base


class hard_sigmoid(Function):
    r"""The piecewise-linear sigmoid :math:`\max(0, \min(1, \alpha x + \beta))`.

    ``hard_sigmoid(x)`` uses ONNX's and Keras 2's defaults α = 1/5, β = 1/2;
    ``hard_sigmoid(x, alpha, beta)`` sets them (PyTorch and Keras 3 use α = 1/6).

    >>> from sympy import Rational
    >>> hard_sigmoid(Rational(1, 2))
    3/5
    >>> hard_sigmoid(Rational(1, 2), Rational(1, 6), Rational(1, 2))
    7/12
    >>> hard_sigmoid(10)
    1
    """

    nargs = (1, 3)
    is_real = True

    @classmethod
    def eval(cls, x, alpha=None, beta=None):
        alpha = S(1) / 5 if alpha is None else alpha
        beta = S.Half if beta is None else beta
        if x.is_Number and alpha.is_Number and beta.is_Number:
            return Max(0, Min(1, alpha * x + beta))
        return None

    @property
    def slope(self):
        return self.args[1] if len(self.args) == 3 else S(1) / 5

    @property
    def offset(self):
        return self.args[2] if len(self.args) == 3 else S.Half

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        x, a, b = self.args[0], self.slope, self.offset
        # Zero on the flat parts; at the two kinks (measure zero) we take 0. The bounds
        # are on x itself, so the condition reads the same whatever x is substituted by.
        return Piecewise((a, (x > -b / a) & (x < (1 - b) / a)), (0, True))

    def _eval_rewrite_as_Max(self, x, *args, **kwargs):
        return Max(0, Min(1, self.slope * x + self.offset))

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        base = rf"\sigma_{{\mathrm{{hard}}}}\left({arg}\right)"
        return rf"{base}^{{{exp}}}" if exp is not None else base


@dataclass(frozen=True)
class Activation:
    """One entry of the activation table: a name, what it builds, and a one-line summary."""

    name: str
    build: Callable[[sympy.Expr], sympy.Expr]
    summary: str

    def __call__(self, x: sympy.Expr) -> sympy.Expr:
        return self.build(x)


# The table is data: adding an activation is one line here, nothing else changes.
ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", sigmoid, "1/(1 + exp(-x))"),
        Activation("hard_sigmoid", hard_sigmoid, "max(0, min(1, x/5 + 1/2)) (ONNX, Keras 2)"),
        Activation(
            "hard_sigmoid_relu6",
            lambda x: hard_sigmoid(x, S(1) / 6, S.Half),
            "relu6(x + 3)/6 (PyTorch Hardsigmoid, Keras 3)",
        ),
        Activation("tanh", tanh, "hyperbolic tangent"),
        Activation("softsign", lambda x: x / (1 + Abs(x)), "x/(1 + |x|)"),
        Activation("relu", lambda x: Max(0, x), "max(0, x)"),
        Activation("identity", lambda x: x, "x (no activation)"),
    )
}


def activation(name: str) -> Activation:
    """Look up an activation by name.

    >>> activation("tanh").summary
    'hyperbolic tangent'
    >>> activation("swish")
    Traceback (most recent call last):
    ...
    symlstm.errors.UnknownNameError: unknown activation 'swish'; known: sigmoid, ...
    """
    if not isinstance(name, str):
        raise ArgumentError(f"an activation's name must be a string, not {type(name).__name__}")
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(ACTIVATIONS)
        raise UnknownNameError(f"unknown activation {name!r}; known: {known}") from None
