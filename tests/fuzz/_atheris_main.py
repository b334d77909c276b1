"""Shared atheris entry point for the ``fuzz_<target>.py`` scripts (local use, not CI).

    .venv/bin/pip install atheris          # local only; not a project dependency
    .venv/bin/python tests/fuzz/fuzz_decode_frame.py tests/fuzz/corpus/decode_frame \\
        -atheris_runs=200000 -timeout=10 -rss_limit_mb=2048

Every libFuzzer flag works (``-max_total_time=180``, ``-runs=N``, ``-max_len=8192``...). New
inputs that reach new code are written into the first corpus directory; a crash stops the run
and is written to ``crash-<sha1>`` (``-artifact_prefix=DIR/`` chooses where).

``FUZZ_KEEP_GOING=DIR`` keeps fuzzing after a crash instead: each distinct crash (exception
type and innermost hivemind_client frame) is saved once as ``DIR/crash-<signature>-<sha1>``
with its traceback on stderr, and the run goes on. That is how the figures in README.md were
made (libFuzzer's ``-print_final_stats=1`` gives the execution count).
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _signature(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "hivemind_client" in f.filename] or frames
    where = f"{Path(ours[-1].filename).stem}.{ours[-1].name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(error).__name__}@{where}"


def main(target_name: str) -> None:
    import atheris  # type: ignore[import-not-found]

    with atheris.instrument_imports(include=["hivemind_client", "tests.fuzz.targets"]):
        from tests.fuzz import targets

    target = targets.TARGETS[target_name]
    if target_name == "session":
        targets.fast_kdf()
    keep_going = os.environ.get("FUZZ_KEEP_GOING")
    crashes: dict[str, int] = {}

    def test_one_input(data: bytes) -> None:
        if not keep_going:
            targets.run(target, data)
            return
        try:
            targets.run(target, data)
        except Exception as error:
            signature = _signature(error)
            if signature not in crashes:
                directory = Path(keep_going)
                directory.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha1(data).hexdigest()
                safe = "".join(c if c.isalnum() or c in "._@-" else "_" for c in signature)
                (directory / f"crash-{safe}-{digest}").write_bytes(data)
                print(f"\n== new crash {signature}\n{traceback.format_exc()}", file=sys.stderr)
            crashes[signature] = crashes.get(signature, 0) + 1

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
