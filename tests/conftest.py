"""Shared test settings: hypothesis profiles (CI runs a bounded budget)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.drivers import DRIVERS

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    """Each driver in turn, for behaviour tests shared by all of them (tests/drivers.py)."""
    return str(request.param)
