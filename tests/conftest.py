"""Shared test set-up: every test starts and ends with mpmath's default global precision."""

from __future__ import annotations

import mpmath
import pytest


@pytest.fixture(autouse=True)
def _reset_mpmath_state():
    """Put mpmath's global precision back to its defaults after each test."""
    yield
    mpmath.mp.dps = 15
    mpmath.iv.prec = 53
