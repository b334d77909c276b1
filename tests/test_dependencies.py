"""Run-time dependencies: the library never imports the dev-only ones."""

from __future__ import annotations

import subprocess
import sys
import textwrap

DEV_ONLY = ["kaitaistruct", "jsonschema", "hypothesis", "yaml"]


def test_library_imports_no_dev_dependency() -> None:
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        import hivemind_client
        for _, name, _ in pkgutil.walk_packages(hivemind_client.__path__, "hivemind_client."):
            if name == "hivemind_client._generated.hivemind_frame":
                continue  # the Kaitai cross-check parser, imported by the tests only
            if name.endswith("__main__"):
                continue
            if "._generated." in name and name.endswith("_models"):
                continue  # typing-only models
            importlib.import_module(name)
        print(sorted(set({DEV_ONLY!r}) & set(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
