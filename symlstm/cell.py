"""The LSTM cell as SymPy equations: the single source of truth.

A :class:`Cell` is one of three *kinds*:

``"tied"``
    The spec's scalar cell: one weight per gate applied to both h_{t-1} and x_t,
    z_k = w_k h_{t-1} + w_k x_t + b_k.
``"scalar"``
    The general scalar cell, z_k = W_k x_t + U_k h_{t-1} + b_k.
``"vector"``
    Hidden size n, input size m: matrix symbols W_k (n×m), U_k (n×n), vectors
    b_k (n), element-wise products (⊙). With a projection size p (PyTorch's
    ``proj_size``, the LSTMP of Sak et al. 2014), the output o ⊙ tanh(c) becomes the
    intermediate m (n components) and h = W_hr m has p: W_hr is (p×n), U_k (n×p),
    h and h_prev have p components; c stays n.

and one :class:`Variant`: peepholes, a coupled or absent forget gate, a
constant forget bias inside σ, a clip on the pre-activations, and the
activations. Variants are options of one
cell; nothing here is written once per variant.

>>> from sympy import sstr
>>> for eq in Cell("tied").equations(inline=True):
...     print(sstr(eq, order="none"))
Eq(f, sigmoid(w_f*h_prev + w_f*x + b_f))
Eq(i, sigmoid(w_i*h_prev + w_i*x + b_i))
Eq(g, tanh(w_g*h_prev + w_g*x + b_g))
Eq(c, f*c_prev + i*g)
Eq(o, sigmoid(w_o*h_prev + w_o*x + b_o))
Eq(h, o*tanh(c))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import sympy
from sympy import (
    Add,
    Eq,
    HadamardProduct,
    MatAdd,
    MatMul,
    MatrixSymbol,
    Max,
    Min,
    Mul,
    OneMatrix,
    S,
    Symbol,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symlstm.errors import ArgumentError, ParameterError, UnknownNameError
from symlstm.functions import activation
from symlstm.numeric.exact import to_rational
from symlstm.symbols import GATES, PEEPHOLE_GATES, QUANTITIES, STATE

__all__ = ["FORGET_GATES", "KINDS", "Assignment", "Cell", "Variant"]

KINDS: tuple[str, ...] = ("tied", "scalar", "vector")
#: ``standard``: its own σ gate; ``coupled``: f = 1 − i; ``none``: f = 1 (the 1997 cell).
FORGET_GATES: tuple[str, ...] = ("standard", "coupled", "none")


@dataclass(frozen=True, kw_only=True)
class Variant:
    """The options of a cell, with the textbook cell as the default.

    Parameters
    ----------
    peephole
        Add p_k ⊙ c_{t-1} to the i and f pre-activations and p_o ⊙ c_t to o's
        (Gers & Schmidhuber 2000).
    forget_gate
        ``"standard"``, ``"coupled"`` (f = 1 − i) or ``"none"`` (f = 1).
    forget_bias
        A constant added inside the forget gate's σ (TF1's ``forget_bias``).
    gate_activation, candidate_activation, output_activation
        Names from :data:`symlstm.functions.ACTIVATIONS` for σ of the gates,
        the candidate g and the squashing of c in h = o ⊙ act(c).
    clip
        ONNX's ``clip`` attribute (None: no clip): a positive threshold C that bounds
        every gate's whole pre-activation, peephole and forget-bias terms included, to
        [−C, C] before its activation: i = σ(min(C, max(−C, z_i))), and likewise f, g
        and o. The pre-activations z_k themselves stay unclipped. This is exactly what
        ONNX Runtime's CPU kernel does (``clip_add_bias`` on the i, f, c and o blocks
        after the peephole products; the coupled gate f = 1 − i is not clipped again).
        The cell state c is *not* clipped, neither where it is stored nor before the
        output activation: onnxruntime's ``tanh_m`` ignores the clipped copy of c it is
        handed. TF1's ``cell_clip``, which bounds c itself, is a different option.

    >>> Variant.parse("peephole,coupled,gate=hard_sigmoid").label()
    'peephole, coupled forget gate, gate=hard_sigmoid'
    >>> Variant(clip="2.5").label()
    'clip 5/2'
    >>> Variant(clip=0)
    Traceback (most recent call last):
    ...
    symlstm.errors.ParameterError: clip must be a positive number (or None for no clip), not 0
    >>> Variant(forget_gate="sometimes")
    Traceback (most recent call last):
    ...
    symlstm.errors.UnknownNameError: unknown forget_gate 'sometimes'; known: standard, coupled, none
    """

    peephole: bool = False
    forget_gate: str = "standard"
    forget_bias: Any = field(default=S.Zero)
    gate_activation: str = "sigmoid"
    candidate_activation: str = "tanh"
    output_activation: str = "tanh"
    clip: Any = None

    def __post_init__(self) -> None:
        for name in ("forget_gate", "gate_activation", "candidate_activation", "output_activation"):
            if not isinstance(getattr(self, name), str):
                raise ArgumentError(
                    f"{name} must be a name (a string), not {type(getattr(self, name)).__name__}"
                )
        if not isinstance(self.peephole, bool):
            raise ParameterError(f"peephole must be true or false, not {self.peephole!r}")
        if self.forget_gate not in FORGET_GATES:
            raise UnknownNameError(
                f"unknown forget_gate {self.forget_gate!r}; known: {', '.join(FORGET_GATES)}"
            )
        object.__setattr__(self, "forget_bias", to_rational(self.forget_bias, what="forget_bias"))
        if self.forget_bias != 0 and self.forget_gate != "standard":
            raise ParameterError("forget_bias needs the standard forget gate")
        for name in ("gate_activation", "candidate_activation", "output_activation"):
            activation(getattr(self, name))  # raises on an unknown name
        if self.clip is not None:
            clip = to_rational(self.clip, what="clip")
            if clip <= 0:
                raise ParameterError(
                    f"clip must be a positive number (or None for no clip), not {self.clip!r}"
                )
            object.__setattr__(self, "clip", clip)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Variant:
        """Build a variant from a mapping (an example file's ``[cell.variant]`` table).

        >>> Variant.from_mapping({"forget_bias": "1"}).forget_bias
        1
        >>> Variant.from_mapping({"peepholes": True})
        Traceback (most recent call last):
        ...
        symlstm.errors.UnknownNameError: unknown variant option 'peepholes'; known: peephole, ...
        """
        if not isinstance(options, Mapping):
            raise ArgumentError(f"options must be a mapping, not {type(options).__name__}")
        known = [f for f in cls.__dataclass_fields__]
        for key in options:
            if key not in known:
                raise UnknownNameError(f"unknown variant option {key!r}; known: {', '.join(known)}")
        return cls(**options)

    @classmethod
    def parse(cls, text: str) -> Variant:
        """Parse the command line's ``--variant`` text.

        Comma-separated words: ``peephole``, ``coupled``, ``no-forget``,
        ``forget-bias=B``, ``clip=C``, ``gate=ACT``, ``candidate=ACT``, ``output=ACT``.

        >>> Variant.parse("no-forget").forget_gate
        'none'
        >>> Variant.parse("clip=3").clip
        3
        """
        if not isinstance(text, str):
            raise ArgumentError(f"a variant must be text (a string), not {type(text).__name__}")
        options: dict[str, Any] = {}
        flags = {
            "peephole": ("peephole", True),
            "coupled": ("forget_gate", "coupled"),
            "no-forget": ("forget_gate", "none"),
            "standard": ("forget_gate", "standard"),
        }
        keyed = {
            "forget-bias": "forget_bias",
            "clip": "clip",
            "gate": "gate_activation",
            "candidate": "candidate_activation",
            "output": "output_activation",
        }
        for word in filter(None, (w.strip() for w in text.split(","))):
            key, _, value = word.partition("=")
            if not value and key in flags:
                name, flag_value = flags[key]
                options[name] = flag_value
            elif value and key in keyed:
                options[keyed[key]] = value
            else:
                known = ", ".join([*flags, *(f"{k}=…" for k in keyed)])
                raise UnknownNameError(f"unknown variant {word!r}; known: {known}")
        return cls(**options)

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-ready data (the forget bias and clip as exact strings)."""
        d = asdict(self)
        d["forget_bias"] = str(self.forget_bias)
        d["clip"] = None if self.clip is None else str(self.clip)
        return d

    def label(self) -> str:
        """A short description: ``"textbook"`` for the default cell."""
        parts = []
        if self.peephole:
            parts.append("peephole")
        if self.forget_gate != "standard":
            parts.append({"coupled": "coupled", "none": "no"}[self.forget_gate] + " forget gate")
        if self.forget_bias != 0:
            parts.append(f"forget bias {self.forget_bias}")
        if self.clip is not None:
            parts.append(f"clip {self.clip}")
        for name, default in (("gate", "sigmoid"), ("candidate", "tanh"), ("output", "tanh")):
            value = getattr(self, f"{name}_activation")
            if value != default:
                parts.append(f"{name}={value}")
        return ", ".join(parts) or "textbook"


class Assignment(NamedTuple):
    """One scalar step of the evaluation program: ``target := expr``."""

    quantity: str  # canonical quantity name (``"f"``, ``"z_f"`` …)
    index: int | None  # component for vector cells, None for scalar cells
    target: sympy.Expr  # the Symbol or MatrixElement that receives the value
    expr: sympy.Expr


def elementwise_apply(arg: sympy.MatrixExpr, fn: Callable[[sympy.Expr], sympy.Expr]) -> sympy.Expr:
    """``fn`` applied entry by entry to the matrix expression ``arg``, unevaluated.

    SymPy's ``applyfunc`` first calls ``fn`` on a 1×1 matrix itself, which an activation
    built of scalar arithmetic (softsign's x/(1 + |x|), relu's max(0, x)) cannot take; for
    a hidden size of 1 the node is then made from a scalar lambda directly.
    """
    try:
        return arg.applyfunc(fn)
    except (TypeError, ValueError, NotImplementedError):  # what SymPy raises there
        if arg.shape != (1, 1):
            raise
    x = sympy.Dummy("x", real=True)  # entries are real: |x|' = sign(x), not re/im parts
    return sympy.Basic.__new__(ElementwiseApplyFunction, sympy.Lambda(x, fn(x)), arg)


class Cell:
    """The LSTM cell equations of one kind and variant.

    Parameters
    ----------
    kind
        ``"tied"`` (the spec's cell), ``"scalar"`` or ``"vector"``.
    variant
        A :class:`Variant`; keyword options such as ``peephole=True`` build one.
    hidden_size, input_size
        Sizes of a vector cell; left out, they are the symbols n and m (the
        equations can then be printed and differentiated but not evaluated).
    proj_size
        A vector cell's projection size p (None, the default: no projection). The
        cell then has one more parameter, ``W_hr`` (p × n, PyTorch's ``weight_hr_l0``),
        one more quantity, ``m = o ⊙ tanh(c)`` (n components), and ``h = W_hr m``
        (p components); U_k is (n × p) and h_prev has p components.

    >>> cell = Cell("vector", hidden_size=3, input_size=2, proj_size=2)
    >>> cell.shape("W_hr"), cell.shape("U_i"), cell.shape("h"), cell.shape("m")
    ((2, 3), (3, 2), (2,), (3,))
    >>> [str(eq) for eq in cell.equations()[-2:]]
    ['Eq(m, HadamardProduct(o, s))', 'Eq(h, W_hr*m)']

    >>> Cell("vector", hidden_size=2, input_size=3).parameters["W_i"].shape
    (2, 3)
    >>> sorted(Cell("scalar", forget_gate="coupled").parameters)
    ['U_g', 'U_i', 'U_o', 'W_g', 'W_i', 'W_o', 'b_g', 'b_i', 'b_o']
    """

    def __init__(
        self,
        kind: str = "tied",
        variant: Variant | None = None,
        *,
        hidden_size: int | None = None,
        input_size: int | None = None,
        proj_size: int | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(kind, str):
            raise ArgumentError(f"kind must be a string, not {type(kind).__name__}")
        if kind not in KINDS:
            raise UnknownNameError(f"unknown cell kind {kind!r}; known: {', '.join(KINDS)}")
        if variant is not None and not isinstance(variant, Variant):
            raise ArgumentError(
                f"variant must be a Variant, not {type(variant).__name__} ({variant!r}); "
                "give options by keyword (Cell('tied', peephole=True)) or "
                "Variant.parse('peephole')"
            )
        if variant is not None and options:
            raise ParameterError("give either a Variant or variant options, not both")
        self.kind = kind
        self.variant = variant if variant is not None else Variant.from_mapping(options)
        if kind != "vector" and (hidden_size not in (None, 1) or input_size not in (None, 1)):
            raise ParameterError(f"a {kind} cell has hidden and input size 1")
        if kind != "vector" and proj_size is not None:
            raise ParameterError(f"a {kind} cell has no projection (proj_size is for vector cells)")
        sizes = (("hidden_size", hidden_size), ("input_size", input_size), ("proj_size", proj_size))
        for name, size in sizes:
            if size is not None and (
                isinstance(size, bool) or not isinstance(size, int) or size < 1
            ):
                raise ParameterError(f"{name} must be a positive integer, not {size!r}")
        self.hidden_size = hidden_size if kind == "vector" else 1
        self.input_size = input_size if kind == "vector" else 1
        self.proj_size = proj_size

    def __repr__(self) -> str:
        sizes = f", hidden_size={self.hidden_size}, input_size={self.input_size}"
        if self.projected:
            sizes += f", proj_size={self.proj_size}"
        return f"Cell({self.kind!r}, {self.variant!r}{sizes if self.is_vector else ''})"

    @property
    def is_vector(self) -> bool:
        return self.kind == "vector"

    @property
    def projected(self) -> bool:
        """True for a vector cell with a projection h = W_hr m (``proj_size`` given)."""
        return self.proj_size is not None

    @property
    def sized(self) -> bool:
        """True when every size is a number, so the cell can be evaluated."""
        return self.hidden_size is not None and self.input_size is not None

    # -- symbols --------------------------------------------------------------

    @cached_property
    def _dims(self) -> tuple[Any, Any]:
        n = self.hidden_size if self.hidden_size is not None else Symbol("n", integer=True)
        m = self.input_size if self.input_size is not None else Symbol("m", integer=True)
        return n, m

    @property
    def _out(self) -> Any:
        """The number of components of h: p with a projection, else n."""
        return self.proj_size if self.projected else self._dims[0]

    def _symbol(self, name: str, rows: Any = None, cols: Any = 1) -> sympy.Expr:
        if not self.is_vector:
            return Symbol(name, real=True)
        return MatrixSymbol(name, self._dims[0] if rows is None else rows, cols)

    @property
    def gates_with_parameters(self) -> tuple[str, ...]:
        """Gates that have their own weights: i, g, o and, for the standard forget gate, f."""
        if self.variant.forget_gate == "standard":
            return GATES
        return tuple(k for k in GATES if k != "f")

    @property
    def peephole_gates(self) -> tuple[str, ...]:
        if not self.variant.peephole:
            return ()
        return tuple(k for k in PEEPHOLE_GATES if k in self.gates_with_parameters)

    @cached_property
    def parameters(self) -> dict[str, sympy.Expr]:
        """The cell's parameter symbols by canonical name, in a stable order."""
        n, m = self._dims
        params: dict[str, sympy.Expr] = {}
        for k in self.gates_with_parameters:
            if self.kind == "tied":
                params[f"w_{k}"] = self._symbol(f"w_{k}")
            else:
                params[f"W_{k}"] = self._symbol(f"W_{k}", n, m)
                params[f"U_{k}"] = self._symbol(f"U_{k}", n, self._out)
            params[f"b_{k}"] = self._symbol(f"b_{k}")
        for k in self.peephole_gates:
            params[f"p_{k}"] = self._symbol(f"p_{k}")
        if self.projected:
            params["W_hr"] = self._symbol("W_hr", self._out, n)
        return params

    @cached_property
    def symbols(self) -> dict[str, sympy.Expr]:
        """Step symbols by canonical name: x, h_prev, c_prev and every quantity."""
        m = self._dims[1]
        (h_prev, h), (c_prev, _) = STATE
        out = {
            "x": self._symbol("x", m),
            h_prev: self._symbol(h_prev, self._out),
            c_prev: self._symbol(c_prev),
        }
        for name in self.quantities:
            out[name] = self._symbol(name, self._out if name == h else None)
        return out

    @property
    def quantities(self) -> tuple[str, ...]:
        """The per-step quantities in evaluation order (the spec's order where it can be)."""
        order = list(QUANTITIES)
        if "f" not in self.gates_with_parameters:  # f = 1 − i, or 1: computed after i
            order.remove("z_f")
            order.remove("f")
            order.insert(order.index("i") + 1, "f")
        if self.projected:
            order.insert(order.index("h"), "m")
        return tuple(order)

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of a parameter, input or state value: ``()`` for scalar cells."""
        sym = self.parameters.get(name, None)
        if sym is None:
            sym = self.symbols.get(name)
        if sym is None:
            raise UnknownNameError(f"{name!r} is not a name of this {self.kind} cell")
        if not self.is_vector:
            return ()
        rows, cols = sym.shape
        return (rows, cols) if name.startswith(("W_", "U_")) else (rows,)

    # -- equations ------------------------------------------------------------

    def _sum(self, *terms: sympy.Expr) -> sympy.Expr:
        # Unevaluated, so printing keeps the textbook order W x + U h + b.
        terms = tuple(t for t in terms if t is not None)
        return MatAdd(*terms) if self.is_vector else Add(*terms, evaluate=False)

    def _product(self, a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
        # Unevaluated too: "f c_prev", not SymPy's sorted "c_prev f".
        return HadamardProduct(a, b) if self.is_vector else Mul(a, b, evaluate=False)

    def _ones(self) -> sympy.Expr:
        return OneMatrix(self._dims[0], 1) if self.is_vector else S.One

    def _apply(self, name: str, arg: sympy.Expr, *, clip: bool = False) -> sympy.Expr:
        act = activation(name)
        bound = self.variant.clip if clip else None
        if bound is None:
            return elementwise_apply(arg, act.build) if self.is_vector else act(arg)

        def clipped(z: sympy.Expr) -> sympy.Expr:
            return act(Min(bound, Max(-bound, z)))

        return elementwise_apply(arg, clipped) if self.is_vector else clipped(arg)

    def preactivation(self, gate: str) -> sympy.Expr:
        """The pre-activation z_k of a gate as an expression of x, h_prev, c_prev (c for o)."""
        if gate not in self.gates_with_parameters:
            raise UnknownNameError(f"gate {gate!r} has no pre-activation in this cell")
        p, s = self.parameters, self.symbols
        x, h_prev = s["x"], s["h_prev"]
        if self.kind == "tied":
            w = p[f"w_{gate}"]
            terms = [self._product(w, h_prev), self._product(w, x), p[f"b_{gate}"]]
        elif self.kind == "scalar":
            terms = [
                self._product(p[f"W_{gate}"], x),
                self._product(p[f"U_{gate}"], h_prev),
                p[f"b_{gate}"],
            ]
        else:
            terms = [MatMul(p[f"W_{gate}"], x), MatMul(p[f"U_{gate}"], h_prev), p[f"b_{gate}"]]
        if gate in self.peephole_gates:
            state = s["c"] if gate == "o" else s["c_prev"]
            terms.append(self._product(p[f"p_{gate}"], state))
        if gate == "f" and self.variant.forget_bias != 0:
            terms.append(self.variant.forget_bias * self._ones())
        return self._sum(*terms)

    def equations(self, *, inline: bool = False) -> list[Eq]:
        """The step's equations in evaluation order.

        Parameters
        ----------
        inline
            ``False``: pre-activations z_k and s = tanh(c) are equations of their own,
            as the evaluation and the worked examples use them. ``True``: the
            textbook form, one equation for each of f, i, g, c, o, h.

        >>> from sympy import sstr
        >>> for eq in Cell("scalar", forget_gate="coupled").equations(inline=True)[:2]:
        ...     print(sstr(eq, order="none"))
        Eq(i, sigmoid(W_i*x + U_i*h_prev + b_i))
        Eq(f, 1 - i)
        """
        s, v = self.symbols, self.variant
        eqs: list[Eq] = []
        for name in self.quantities:
            if name.startswith("z_"):
                rhs = self.preactivation(name[2:])
            elif name in ("i", "o") or (name == "f" and v.forget_gate == "standard"):
                rhs = self._apply(v.gate_activation, s[f"z_{name}"], clip=True)
            elif name == "f":
                rhs = self._ones() - s["i"] if v.forget_gate == "coupled" else self._ones()
            elif name == "g":
                rhs = self._apply(v.candidate_activation, s["z_g"], clip=True)
            elif name == "c":
                rhs = self._sum(self._product(s["f"], s["c_prev"]), self._product(s["i"], s["g"]))
            elif name == "s":
                rhs = self._apply(v.output_activation, s["c"])
            elif name == "m":  # the unprojected output o ⊙ tanh(c) of a projected cell
                rhs = self._product(s["o"], s["s"])
            elif self.projected:  # h = W_hr m, the projection
                rhs = MatMul(self.parameters["W_hr"], s["m"])
            else:  # h
                rhs = self._product(s["o"], s["s"])
            eqs.append(Eq(s[name], rhs, evaluate=False))
        if not inline:
            return eqs
        inlined = (s["s"], s.get("m"))
        defs: dict[sympy.Expr, sympy.Expr] = {}
        out = []
        with sympy.evaluate(False):  # keep the textbook term order through the substitution
            for eq in eqs:
                rhs = eq.rhs.xreplace(defs)
                if str(eq.lhs).startswith("z_") or eq.lhs in inlined:
                    defs[eq.lhs] = rhs
                else:
                    out.append(Eq(eq.lhs, rhs))
        return out

    def program(self) -> list[Assignment]:
        """The equations as scalar assignments, component by component for vector cells.

        Raises
        ------
        ParameterError
            For a vector cell whose sizes are symbols.
        """
        if not self.sized:
            raise ParameterError("give hidden_size and input_size to evaluate a vector cell")
        return list(self._program)

    @cached_property
    def _program(self) -> tuple[Assignment, ...]:
        out = []
        for name, eq in zip(self.quantities, self.equations(), strict=True):
            if not self.is_vector:
                out.append(Assignment(name, None, eq.lhs, eq.rhs))
                continue
            rhs = eq.rhs.as_explicit()
            for r in range(eq.lhs.shape[0]):
                out.append(Assignment(name, r, eq.lhs[r, 0], rhs[r, 0]))
        return tuple(out)
