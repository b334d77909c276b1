"""A small public surface: every module declares __all__, and the package re-exports it."""

from __future__ import annotations

import importlib
import pkgutil

import hivemind_client

PUBLIC_MODULES = [
    name
    for _, name, _ in pkgutil.iter_modules(hivemind_client.__path__)
    if not name.startswith("_") and name != "cli"
]


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
