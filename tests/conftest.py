"""Shared test settings: hypothesis profiles (CI runs a bounded budget), and a config home
of each test's own (below)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

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


# -- the identity file ---------------------------------------------------------------------------
# A client built without identity= reads $XDG_CONFIG_HOME/hivemind/_identity.json and keeps its
# Noise static key and hub pins there. No test may touch the real ~/.config, and pins must not
# leak between tests (hubs reuse loopback ports), so every test gets its own config directory,
# seeded with one RSA key pair made once per session (generating one costs ~0.3 s).


def pytest_configure(config: pytest.Config) -> None:
    """Before anything is collected or imported: a config home outside the user's."""
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="hivemind-client-tests-xdg-")


@pytest.fixture(scope="session")
def _seed_identity_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hivemind_client.identity import NodeIdentity

    seed = tmp_path_factory.mktemp("identity-seed") / "hivemind"
    identity = NodeIdentity(seed / "_identity.json")
    identity.ensure_keys()
    data = json.loads(identity.path.read_text())
    data["secret_key"] = Path(data["secret_key"]).name  # relative: resolves in each copy
    identity.path.write_text(json.dumps(data))
    return seed


@pytest.fixture(autouse=True)
def _own_config_home(
    _seed_identity_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    home = tmp_path_factory.mktemp("xdg")
    shutil.copytree(_seed_identity_dir, home / "hivemind")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's config home."""
    shutil.rmtree(os.environ.get("XDG_CONFIG_HOME", ""), ignore_errors=True)
