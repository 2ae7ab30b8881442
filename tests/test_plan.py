"""symlstm.plan: the step plan every numeric consumer reads, checked against the cell itself.

The forward equations must be the scalar cell's own once each affine symbol is replaced by
W_k x + U_k h_prev + b_k; the backward equations must be backward_step's, less exactly the
matrix adjoints, which must have the GEMM forms the consumers compute. Tampered cells and
backward steps (the only way to get a cell the split cannot handle: every variant splits)
are refused with the messages the reference has always given.
"""

from __future__ import annotations

import pytest
import sympy
from sympy import Eq

from symlstm import plan as plan_module
from symlstm.cell import Cell, Variant
from symlstm.codegen.common import GeneratorPlan
from symlstm.derive.backward import BackwardStep, backward_step
from symlstm.errors import ArgumentError, SymLSTMError, UnknownNameError
from symlstm.plan import StepPlan, step_plan

VARIANTS = (
    "",
    "peephole",
    "coupled",
    "no-forget",
    "peephole,coupled",
    "peephole,no-forget",
    "forget-bias=1",
    "gate=hard_sigmoid",
    "gate=hard_sigmoid_relu6",
    "candidate=softsign,output=softsign",
    "clip=3",
    "peephole,clip=2.5,forget-bias=1",
)


@pytest.fixture
def fresh_plans():
    """An empty cache before and after: for tests that patch what the plan is derived from."""
    step_plan.cache_clear()
    yield
    step_plan.cache_clear()


def _linear(cell: Cell, k: str) -> sympy.Expr:
    s, p = cell.symbols, cell.parameters
    return p[f"W_{k}"] * s["x"] + p[f"U_{k}"] * s["h_prev"] + p[f"b_{k}"]


def _same(a: sympy.Expr, b: sympy.Expr) -> bool:
    return sympy.expand(a - b) == 0


# -- what the plan holds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "gates", "reading_c", "peepholes"),
    [
        ("", ("i", "f", "g", "o"), [], ()),
        ("peephole", ("i", "f", "g", "o"), ["o"], ("i", "f", "o")),
        ("coupled", ("i", "g", "o"), [], ()),
        ("no-forget", ("i", "g", "o"), [], ()),
        ("peephole,coupled", ("i", "g", "o"), ["o"], ("i", "o")),
        ("peephole,no-forget", ("i", "g", "o"), ["o"], ("i", "o")),
    ],
)
def test_gates_in_the_cells_order_and_which_read_c(words, gates, reading_c, peepholes):
    plan = step_plan(words)
    assert plan.gate_names == gates == Cell("scalar", Variant.parse(words)).gates_with_parameters
    assert [g.name for g in plan.gates if g.reads_c] == reading_c
    assert plan.peepholes == peepholes
    assert set(plan.affine) == set(gates)


def test_gate_activations_and_extras():
    plan = step_plan("peephole,forget-bias=1,gate=hard_sigmoid")
    s, p = plan.cell.symbols, plan.cell.parameters
    f = plan.gate("f")
    assert _same(f.extra, p["p_f"] * s["c_prev"] + 1)
    assert f.activation.func.__name__ == "hard_sigmoid" and f.activation.args[0] == s["z_f"]
    assert plan.gate("g").extra == 0 and plan.gate("g").activation == sympy.tanh(s["z_g"])
    assert _same(plan.gate("o").extra, p["p_o"] * s["c"])
    with pytest.raises(UnknownNameError, match="no gate 'x'"):
        plan.gate("x")


@pytest.mark.parametrize("words", VARIANTS)
def test_forward_equations_are_the_cells_own(words):
    plan = step_plan(words)
    cell = Cell("scalar", Variant.parse(words))
    own = cell.equations()
    assert [eq.name for eq in plan.forward] == list(cell.quantities)
    assert [eq.target for eq in plan.forward] == [eq.lhs for eq in own]
    back = {plan.affine[k]: _linear(cell, k) for k in plan.gate_names}
    for eq, cell_eq in zip(plan.forward, own, strict=True):
        assert _same(eq.rhs.xreplace(back), cell_eq.rhs.doit()), eq.name
        assert plan.equations[eq.name] == cell_eq.rhs.doit()
    for k in plan.gate_names:  # z_k = a_k + extra, where the affine part is W_k x + U_k h + b_k
        (z,) = [eq for eq in plan.forward if eq.name == f"z_{k}"]
        assert z.rhs == plan.affine[k] + plan.gate(k).extra


@pytest.mark.parametrize("words", VARIANTS)
def test_nothing_is_read_before_it_is_computed(words):
    plan = step_plan(words)
    s, p = plan.cell.symbols, plan.cell.parameters
    known = {s["c_prev"], *plan.affine.values(), *(p[f"p_{k}"] for k in plan.peepholes)}
    matrix = {s["x"], s["h_prev"], *(p[n] for n in p if not n.startswith("p_"))}
    for eq in plan.forward:
        assert eq.rhs.free_symbols <= known and not eq.rhs.free_symbols & matrix, eq.name
        known.add(eq.target)
    known |= {plan.symbols["dh"], plan.symbols["dc_next"]}
    for eq in plan.backward:
        assert eq.rhs.free_symbols <= known and not eq.rhs.free_symbols & matrix, eq.name
        known.add(eq.target)


@pytest.mark.parametrize("words", VARIANTS)
def test_backward_equations_are_backward_steps_less_the_matrix_ones(words):
    plan = step_plan(words)
    cell = Cell("scalar", Variant.parse(words))
    theirs = {str(eq.lhs): eq.rhs.doit() for eq in backward_step(cell).equations}
    ours = {eq.name: eq.rhs for eq in plan.backward}
    for name, rhs in ours.items():
        assert _same(rhs, theirs[name]), name
    gates = cell.gates_with_parameters
    matrix = {"dx", "dh_prev"} | {f"d{w}_{k}" for k in gates for w in "WUb"}
    assert set(theirs) - set(ours) == matrix
    assert {f"d{n}" for n in plan.gemm_adjoints} == matrix
    s, p = cell.symbols, cell.parameters
    dz = {k: sympy.Symbol(f"dz_{k}", real=True) for k in gates}
    for k in gates:  # the forms the GEMMs compute
        assert _same(theirs[f"dW_{k}"], dz[k] * s["x"])
        assert _same(theirs[f"dU_{k}"], dz[k] * s["h_prev"])
        assert _same(theirs[f"db_{k}"], dz[k])
    assert _same(theirs["dx"], sum(p[f"W_{k}"] * dz[k] for k in gates))
    assert _same(theirs["dh_prev"], sum(p[f"U_{k}"] * dz[k] for k in gates))
    # The order is backward_step's.
    order = [str(eq.lhs) for eq in backward_step(cell).equations if str(eq.lhs) in ours]
    assert [eq.name for eq in plan.backward] == order


@pytest.mark.parametrize("words", VARIANTS)
def test_closed_forms_are_backward_steps_adjoints(words):
    plan = step_plan(words)
    bw = backward_step(Cell("scalar", Variant.parse(words)))
    assert set(plan.closed_forms) == {*(f"dz_{k}" for k in plan.gate_names), "dc_prev"}
    for name, form in plan.closed_forms.items():
        expected = bw.adjoint(name[1:]).doit().xreplace(dict(plan.inline))
        assert _same(form, expected), name
        reads = form.free_symbols - {plan.symbols["dh"], plan.symbols["dc_next"]}
        assert not {str(r) for r in reads if str(r).startswith("d")}, name  # no adjoint left
        assert not set(plan.inline) & form.free_symbols


@pytest.mark.parametrize("words", VARIANTS)
def test_saved_values_are_exactly_the_forward_values_backward_reads(words):
    plan = step_plan(words)
    forward = {eq.target for eq in plan.forward} | {plan.symbols["c_prev"]}
    read = set().union(*(eq.rhs.free_symbols for eq in plan.backward))
    assert set(plan.saved) >= read & forward
    assert set(plan.saved) <= forward
    assert list(plan.saved) == sorted(plan.saved, key=str)


def test_inlined_quantities_have_no_function():
    assert dict(step_plan().inline) == {}
    i, f = sympy.symbols("i f", real=True)
    assert dict(step_plan("coupled").inline) == {f: 1 - i}
    assert dict(step_plan("no-forget").inline) == {f: 1}
    for words in VARIANTS:
        for expr in step_plan(words).inline.values():
            assert not expr.atoms(sympy.Function)


def test_peephole_gradients():
    assert step_plan().peephole_gradients == ()
    plan = step_plan("peephole,coupled")
    got = [(d.parameter, d.gate, d.state) for d in plan.peephole_gradients]
    assert got == [("p_i", "i", "c_prev"), ("p_o", "o", "c")]
    s = plan.cell.symbols
    for d in plan.peephole_gradients:
        state = s[d.state]
        assert _same(d.expr, sympy.Symbol(f"dz_{d.gate}", real=True) * state)
        (eq,) = [eq for eq in plan.backward if eq.name == f"d{d.parameter}"]
        assert eq.rhs == d.expr


@pytest.mark.parametrize("words", VARIANTS)
def test_projection_and_tied_facts(words):
    plan = step_plan(words)
    assert (plan.projection.weight, plan.projection.output, plan.projection.holds) == (
        "W_hr",
        "m",
        True,
    )
    plan.check_projection("the reference")
    plan.check_tied()


def test_the_mappings_are_read_only():
    plan = step_plan()
    with pytest.raises(TypeError):
        plan.affine["i"] = sympy.Symbol("z")  # type: ignore[index]
    with pytest.raises(AttributeError):
        plan.gates = ()  # type: ignore[misc]


# -- once per variant ---------------------------------------------------------------------------


def test_the_cache_returns_the_same_object():
    plan = step_plan("peephole,coupled")
    assert isinstance(plan, StepPlan)
    assert step_plan("peephole,coupled") is plan
    assert step_plan(Variant(peephole=True, forget_gate="coupled")) is plan
    assert step_plan() is step_plan(None) is step_plan(Variant()) is step_plan("")
    assert step_plan("coupled") is not plan


def test_the_generators_read_the_same_plan():
    plan = step_plan("peephole")
    for kind in ("vector", "scalar", "tied"):
        generator = GeneratorPlan(Variant(peephole=True), kind)
        assert generator.step is plan
        assert sorted(g.name for g in generator.gates) == sorted(plan.gate_names)
        assert generator.gates[-1].name == "o"  # reads c_t: emitted after c


def test_bad_arguments():
    with pytest.raises(ArgumentError, match="variant must be a Variant, its text or None, not int"):
        step_plan(3)
    with pytest.raises(ArgumentError):
        step_plan(["peephole"])
    with pytest.raises(UnknownNameError):
        step_plan("no-such-option")


# -- refusals -----------------------------------------------------------------------------------


def _tampered_backward(change):
    def tampered(cell):
        bw = backward_step(cell)
        changed = (change(eq) for eq in bw.equations)
        return BackwardStep(cell, tuple(eq for eq in changed if eq is not None))

    return tampered


def test_a_matrix_adjoint_of_another_form_is_refused(monkeypatch, fresh_plans):
    def change(eq):
        return Eq(eq.lhs, 2 * eq.rhs, evaluate=False) if str(eq.lhs) == "dW_i" else eq

    monkeypatch.setattr(plan_module, "backward_step", _tampered_backward(change))
    with pytest.raises(
        SymLSTMError,
        match=r"^backward_step gives dW_i = 2\*dz_i\*x for the textbook cell; the reference "
        r"computes dW_i = dz_i\*x with matrix products$",
    ):
        step_plan()


def test_an_adjoint_reading_a_matrix_is_refused(monkeypatch, fresh_plans):
    cell = Cell("scalar")

    def change(eq):
        if str(eq.lhs) == "dz_g":
            return Eq(eq.lhs, eq.rhs * cell.parameters["W_i"], evaluate=False)
        return eq

    monkeypatch.setattr(plan_module, "backward_step", _tampered_backward(change))
    with pytest.raises(
        SymLSTMError,
        match=r"^backward_step gives dz_g = .*W_i.*: not element-wise, and not one of the "
        "matrix forms the reference knows$",
    ):
        step_plan()


def test_a_missing_adjoint_is_refused(monkeypatch, fresh_plans):
    monkeypatch.setattr(
        plan_module,
        "backward_step",
        _tampered_backward(lambda eq: None if str(eq.lhs) == "dp_o" else eq),
    )
    with pytest.raises(SymLSTMError, match=r"^backward_step gives no equation for dp_o$"):
        step_plan("peephole")


class _TamperedCell(Cell):
    """A scalar cell whose equations are changed by ``edit`` (name, rhs) → rhs."""

    edit = staticmethod(lambda name, rhs, cell: rhs)

    def equations(self, *, inline=False):
        eqs = super().equations(inline=inline)
        if self.kind != "scalar":
            return eqs
        return [Eq(eq.lhs, self.edit(str(eq.lhs), eq.rhs, self), evaluate=False) for eq in eqs]


def test_a_pre_activation_that_does_not_split_is_refused(monkeypatch, fresh_plans):
    def edit(name, rhs, cell):
        s = cell.symbols
        return rhs.doit() * s["x"] if name == "z_i" else rhs

    monkeypatch.setattr(_TamperedCell, "edit", staticmethod(edit))
    monkeypatch.setattr(plan_module, "Cell", _TamperedCell)
    with pytest.raises(
        SymLSTMError,
        match=r"^z_i = .* is not W_i x \+ U h \+ b plus element-wise terms; the reference "
        "cannot split it into matrix and element-wise parts$",
    ):
        step_plan()


def test_reading_a_value_before_it_is_computed_is_refused(monkeypatch, fresh_plans):
    def edit(name, rhs, cell):
        return rhs * cell.symbols["o"] if name == "f" else rhs

    monkeypatch.setattr(_TamperedCell, "edit", staticmethod(edit))
    monkeypatch.setattr(plan_module, "Cell", _TamperedCell)
    with pytest.raises(SymLSTMError, match=r"^the equation of f reads o before it is computed$"):
        step_plan()


def test_a_projection_that_is_not_w_hr_m_is_refused(monkeypatch, fresh_plans):
    class Unprojected(Cell):
        def equations(self, *, inline=False):
            eqs = super().equations(inline=inline)
            if self.projected:  # h = m, not W_hr m
                eqs[-1] = Eq(eqs[-1].lhs, self.symbols["m"], evaluate=False)
            return eqs

    monkeypatch.setattr(plan_module, "Cell", Unprojected)
    plan = step_plan()
    assert not plan.projection.holds
    with pytest.raises(
        SymLSTMError, match=r"^the reference computes a projected cell's h as W_hr m$"
    ):
        plan.check_projection("the reference")
