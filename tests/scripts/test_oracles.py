"""scripts/oracles.py: an oracle environment moved from where it was built is rebuilt (its
console scripts still name the old interpreter and would not start)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _oracles() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oracles_under_test", ROOT / "scripts" / "oracles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env(home: Path, shebang: str) -> Path:
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "pip").write_text(f"{shebang}\nimport sys\n")
    return home


def test_an_environment_is_built_here_when_its_scripts_name_its_interpreter(tmp_path: Path) -> None:
    oracles = _oracles()
    home = _env(tmp_path / "env", f"#!{tmp_path / 'env' / 'bin' / 'python'}")
    assert oracles.built_here(home)
    link = tmp_path / "link"
    link.symlink_to(tmp_path)  # a worktree's .venvs is a symlink to the main checkout's
    assert oracles.built_here(link / "env")


def test_a_moved_or_broken_environment_is_not(tmp_path: Path) -> None:
    oracles = _oracles()
    assert not oracles.built_here(_env(tmp_path / "moved", "#!/elsewhere/env/bin/python"))
    assert not oracles.built_here(_env(tmp_path / "no-shebang", "import sys"))
    assert not oracles.built_here(tmp_path / "missing")
