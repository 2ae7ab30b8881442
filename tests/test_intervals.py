"""The interval helpers enclose the true values, computed with mpmath at 200 digits."""

from __future__ import annotations

import mpmath
import pytest

from symlstm.numeric import intervals

iv = mpmath.iv
ENDS = ["-800", "-30", "-1.5", "-1e-20", "0", "3e-30", "0.25", "2", "40", "900"]


def _exact(name: str, x: str) -> mpmath.mpf:
    with mpmath.workdps(200):
        v = mpmath.mpf(x)
        return mpmath.tanh(v) if name == "tanh" else 1 / (1 + mpmath.exp(-v))


def _contains(interval, value: mpmath.mpf) -> bool:
    with mpmath.workdps(200):
        return mpmath.mpf(interval.a) <= value <= mpmath.mpf(interval.b)


def _relative_width(interval) -> mpmath.mpf:
    with mpmath.workdps(200):
        a, b = mpmath.mpf(interval.a), mpmath.mpf(interval.b)
        return (b - a) / max(abs(a), abs(b)) if (a, b) != (0, 0) else mpmath.mpf(0)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("prec", [53, 113])
def test_point_values_are_enclosed_tightly(name, prec):
    function = getattr(intervals, name)
    with intervals.working_precision(prec):
        for x in ENDS:
            got = function(iv.mpf(x))
            assert _contains(got, _exact(name, x)), (name, x)
            # A few ULPs of the working precision, relative, even near 0 and in the tails.
            assert _relative_width(got) <= mpmath.mpf(2) ** (6 - prec), (name, x)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_an_interval_maps_to_the_values_at_its_ends(name):
    function = getattr(intervals, name)
    for lo, hi in [("-2", "3"), ("-1e-20", "1e-20"), ("-800", "-30"), ("0.25", "900")]:
        got = function(iv.mpf([lo, hi]))
        assert _contains(got, _exact(name, lo)) and _contains(got, _exact(name, hi))
        with mpmath.workdps(200):  # and not much more: the ends' enclosures, joined
            span = _exact(name, hi) - _exact(name, lo)
            assert mpmath.mpf(got.b) - mpmath.mpf(got.a) <= span + mpmath.mpf(2) ** -45


def test_tanh_and_sigmoid_of_infinities_are_their_limits():
    inf = iv.mpf("inf")
    assert (intervals.tanh(inf).a, intervals.tanh(inf).b) == (1, 1)
    assert (intervals.tanh(-inf).a, intervals.tanh(-inf).b) == (-1, -1)
    assert (intervals.sigmoid(inf).a, intervals.sigmoid(-inf).b) == (1, 0)


def test_extremum_picks_end_by_end():
    a, b = iv.mpf([-1, 4]), iv.mpf([0, 2])
    high, low = intervals.extremum(max, a, b), intervals.extremum(min, a, b)
    assert (high.a, high.b, low.a, low.b) == (0, 4, -1, 2)


def test_point_ends_keep_every_bit():
    with intervals.working_precision(200):
        third = iv.mpf(1) / 3
    with intervals.working_precision(53):  # mpmath.iv.mpf(end) would round to 53 bits here
        lo, hi = intervals.point_ends(third)
    assert lo._mpi_[0] == third._mpi_[0] and hi._mpi_[1] == third._mpi_[1]


def test_working_precision_is_scoped_and_restored_on_error():
    before = iv.prec
    with pytest.raises(ZeroDivisionError), intervals.working_precision(300):
        assert iv.prec == 300
        1 / 0  # noqa: B018
    assert iv.prec == before


def test_bad_arguments_are_argument_errors_naming_the_argument():
    from symlstm.errors import ArgumentError, PrecisionError

    a = mpmath.iv.mpf([0, 1])
    with pytest.raises(ArgumentError, match=r"a must be an mpmath\.iv interval, not float"):
        intervals.sigmoid(0.5)
    with pytest.raises(ArgumentError, match=r"b must be an mpmath\.iv interval, not NoneType"):
        intervals.extremum(max, a, None)
    with pytest.raises(ArgumentError, match="pick must be max or min"):
        intervals.extremum(sorted, a, a)
    with pytest.raises(ArgumentError, match="f must be a function"):
        intervals.monotone(None, a)
    with pytest.raises(ArgumentError, match=r"x must be an mpmath\.iv interval, not str"):
        intervals.tanh_point("zz")
    with (
        pytest.raises(ArgumentError, match="bits must be an integer, not str"),
        intervals.working_precision("53"),
    ):
        pass
    saved = mpmath.iv.prec
    with (
        pytest.raises(PrecisionError, match=r"bits must be 2\.\."),
        intervals.working_precision(0),
    ):
        pass
    assert mpmath.iv.prec == saved
    # both errors are also the built-ins callers may catch
    assert issubclass(ArgumentError, TypeError) and issubclass(PrecisionError, ValueError)
