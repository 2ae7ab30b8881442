"""The one place where symbol names and their notations are decided.

The gate letters (:data:`GATES`, :data:`PEEPHOLE_GATES`), the per-step quantities
(:data:`QUANTITIES`) and the carried state (:data:`STATE`) are defined here and
nowhere else: :mod:`symlstm.cell` builds its symbols from them (a parameter's name is
its kind and its gate letter: ``W_i``, ``U_i``, ``b_i``, ``p_i``, the tied cell's
``w_i``; and a projected cell's ``W_hr``), and :mod:`symlstm.frameworks.layouts` reads the gate
letters from here.

Every quantity of a step has a *canonical name* (a plain identifier used as the
SymPy symbol name, as a key of a :class:`~symlstm.numeric.evaluation.Trace` and in JSON):

========== =====================================================
name       meaning
========== =====================================================
``x``      input at step t
``h_prev`` hidden state h_{t-1}
``c_prev`` cell state c_{t-1}
``z_k``    pre-activation of gate k (k = i, f, g, o)
``i``      input gate
``f``      forget gate
``g``      candidate cell value (the spec's C̃_t)
``c``      cell state c_t (the spec's C_t)
``o``      output gate
``s``      squashed cell state tanh(c_t), the factor h_t = o_t s_t
``h``      hidden state h_t
``m``      o_t ⊙ tanh(c_t) of a projected vector cell (PyTorch's
           ``proj_size``), where h_t = W_hr m_t; the parameter
           ``W_hr`` is the projection matrix
========== =====================================================

A :class:`Notation` maps these names (and the parameter names) to LaTeX and to
Unicode text. Two are built in: ``"spec"`` (the spec document's f_t, i_t,
\\tilde{C}_t, C_t, W_f …) and ``"canonical"`` (i_t, f_t, g_t, c_t, W_i, U_i …).

>>> notation("spec").latex["g"]
'\\\\tilde{C}_{t}'
>>> notation("canonical").text["c_prev"]
'c_{t-1}'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from symlstm.errors import ArgumentError, UnknownNameError

__all__ = [
    "GATES",
    "NOTATIONS",
    "PEEPHOLE_GATES",
    "QUANTITIES",
    "STATE",
    "Notation",
    "notation",
]

#: Gate letters in the canonical order i, f, g, o (PyTorch's order; also Greff et al.'s).
GATES: tuple[str, ...] = ("i", "f", "g", "o")
#: Gates that may have a peephole weight p_k on the cell state (the candidate g has none).
PEEPHOLE_GATES: tuple[str, ...] = ("i", "f", "o")
#: Per-step quantities a Trace records, in evaluation order (of the textbook cell: a
#: cell without its own forget gate has no z_f and computes f after i; a projected cell
#: has m before h).
QUANTITIES: tuple[str, ...] = (
    "z_f",
    "f",
    "z_i",
    "i",
    "z_g",
    "g",
    "c",
    "z_o",
    "o",
    "s",
    "h",
)
#: The state carried from one step to the next: (previous, new) names.
STATE: tuple[tuple[str, str], ...] = (("h_prev", "h"), ("c_prev", "c"))

_GATE_WORDS = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate"}


def _frozen(d: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Notation:
    """How canonical names are written, in LaTeX and in plain (Unicode) text.

    Names not in a table are written with SymPy's default rules (``W_i`` → ``W_{i}``).
    """

    name: str
    latex: Mapping[str, str] = field(default_factory=dict)
    text: Mapping[str, str] = field(default_factory=dict)

    def with_names(
        self, latex: Mapping[str, str] | None = None, text: Mapping[str, str] | None = None
    ) -> Notation:
        """A copy of this notation with some names replaced.

        >>> n = notation("spec").with_names(latex={"x": r"\\mathrm{word}_t"})
        >>> n.latex["x"], n.latex["h"]
        ('\\\\mathrm{word}_t', 'h_{t}')
        """
        return Notation(
            self.name,
            _frozen({**self.latex, **(latex or {})}),
            _frozen({**self.text, **(text or {})}),
        )

    def describe(self, name: str) -> str:
        """A few words on what a canonical quantity name means.

        >>> notation("spec").describe("z_f")
        'pre-activation of the forget gate'
        """
        if name.startswith("z_") and name[2:] in _GATE_WORDS:
            return f"pre-activation of the {_GATE_WORDS[name[2:]]}"
        words = {
            **_GATE_WORDS,
            "c": "cell state",
            "h": "hidden state",
            "s": "squashed cell state",
            "m": "unprojected output",
            "W_hr": "projection matrix",
            "x": "input",
            "h_prev": "previous hidden state",
            "c_prev": "previous cell state",
        }
        return words.get(name, name)


def _canonical() -> Notation:
    latex = {"x": "x_{t}", "h_prev": "h_{t-1}", "c_prev": "c_{t-1}", "s": "s_{t}"}
    text = {"x": "x_t", "h_prev": "h_{t-1}", "c_prev": "c_{t-1}", "s": "s_t"}
    for q in ("i", "f", "g", "c", "o", "m", "h"):
        latex[q], text[q] = f"{q}_{{t}}", f"{q}_t"
    for k in GATES:
        latex[f"z_{k}"], text[f"z_{k}"] = f"z_{{{k},t}}", f"z_{k},t"
    return Notation("canonical", _frozen(latex), _frozen(text))


def _spec() -> Notation:
    # The spec calls the candidate C̃_t, the cell state C_t, and the tied weights W_f … W_C.
    base = _canonical()
    latex = {
        **base.latex,
        "g": r"\tilde{C}_{t}",
        "c": "C_{t}",
        "c_prev": "C_{t-1}",
        "s": r"\tanh\left(C_{t}\right)",
        "z_g": "z_{C,t}",
    }
    text = {
        **base.text,
        "g": "C̃_t",
        "c": "C_t",
        "c_prev": "C_{t-1}",
        "s": "tanh(C_t)",
        "z_g": "z_C,t",
    }
    for k in GATES:
        letter = "C" if k == "g" else k
        for p in ("w", "W", "U", "b", "p"):
            cap = "W" if p == "w" else p
            latex[f"{p}_{k}"], text[f"{p}_{k}"] = f"{cap}_{{{letter}}}", f"{cap}_{letter}"
    return Notation("spec", _frozen(latex), _frozen(text))


NOTATIONS: dict[str, Notation] = {n.name: n for n in (_spec(), _canonical())}


def notation(name: str | Notation) -> Notation:
    """Look up a built-in notation by name (a :class:`Notation` is returned as is)."""
    if isinstance(name, Notation):
        return name
    if not isinstance(name, str):
        raise ArgumentError(f"a notation is a name or a Notation, not {type(name).__name__}")
    try:
        return NOTATIONS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown notation {name!r}; known: {', '.join(NOTATIONS)}"
        ) from None
