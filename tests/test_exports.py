"""A small public surface: every module declares __all__, and the package re-exports it."""

from __future__ import annotations

import importlib
import pkgutil

import hivemind_client

PUBLIC_MODULES = [
    name.removeprefix("hivemind_client.")
    for _, name, _ in pkgutil.walk_packages(hivemind_client.__path__, "hivemind_client.")
    if not any(part.startswith("_") for part in name.split(".")[1:])
    and not name.startswith("hivemind_client.cli")
]

# Where each module of the old flat layout lives now; the old path re-exports it.
MOVED = {
    "message_types": "wire.message_types",
    "frame": "wire.frame",
    "message": "wire.message",
    "validation": "wire.validation",
    "codec": "wire.codec",
    "encodings": "security.encodings",
    "crypto": "security.aead",
    "handshake": "security.legacy_handshake",
    "intercom": "security.intercom",
    "noise": "security.noise",
    "noise_session": "security.hivemind_noise",
    "session": "core.session",
    "events": "core.events",
    "routing": "satellite.routing",
    "cascade": "satellite.cascade",
    "hivemap": "satellite.hivemap",
    "transport": "sync.driver",
    "client": "sync.client",
    "identity": "identity.node_identity",
}


def test_layers_are_walked() -> None:
    assert {"wire.frame", "core.session", "sync.client", "identity"} <= set(PUBLIC_MODULES)


def test_every_module_declares_all() -> None:
    for name in PUBLIC_MODULES:
        module = importlib.import_module(f"hivemind_client.{name}")
        assert hasattr(module, "__all__"), name
        for symbol in module.__all__:
            assert hasattr(module, symbol), f"{name}.{symbol}"


def test_package_exports_resolve() -> None:
    for symbol in hivemind_client.__all__:
        assert hasattr(hivemind_client, symbol), symbol
    assert len(set(hivemind_client.__all__)) == len(hivemind_client.__all__)


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("hivemind_client").joinpath("py.typed").is_file()


def test_package_reexports_the_whole_error_hierarchy() -> None:
    from hivemind_client import errors

    assert set(errors.__all__) <= set(hivemind_client.__all__)


def test_old_flat_paths_reexport_the_moved_modules() -> None:
    for old, new in MOVED.items():
        shim = importlib.import_module(f"hivemind_client.{old}")
        moved = importlib.import_module(f"hivemind_client.{new}")
        assert moved.__all__, new
        for symbol in moved.__all__:
            assert getattr(shim, symbol) is getattr(moved, symbol), f"{old}.{symbol}"


def test_console_script_entry_point_resolves() -> None:
    from hivemind_client.cli import main

    assert callable(main)


def test_the_client_imports_from_the_package_as_reference_users_write_it() -> None:
    from hivemind_client import HiveMessageBusClient, NodeIdentity
    from hivemind_client.identity import NodeIdentity as moved_identity
    from hivemind_client.sync.client import HiveMessageBusClient as moved_client

    assert HiveMessageBusClient is moved_client and NodeIdentity is moved_identity


def test_importing_the_package_does_not_load_the_driver() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, hivemind_client; "
        "print(sorted(m for m in ('hivemind_client.sync', 'websocket', 'hivemind_client.identity')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
