"""Run the reference client's own test suite (hivemind_bus_client 1.2.12a1, from its sdist)
against hivemind_client.compat, and compare with the tests that pass on the reference itself.

Usage: python scripts/reference_suite.py [--refresh-baseline] [--floor N] [-k EXPR]

* The suite's test dependencies live in ``.venvs/refsuite-compat`` (scripts/oracles/
  refsuite-compat.txt: pytest, ovos_bus_client, ... and NOT hivemind_bus_client); this
  repository is put on PYTHONPATH and the run goes through ``python -m hivemind_client.compat
  pytest``, so ``import hivemind_bus_client`` gets our mapping.
* The tests that pass on the real reference are recorded in
  ``tests/compat/reference_baseline.txt``; ``--refresh-baseline`` rebuilds that file by running
  the same suite in ``.venvs/refsuite-ref`` (the reference installed, about 2 minutes).
* The tests under ``tests/e2e`` need hivescope and a hub inside the test process; they are left
  out of both runs.

Prints the count of baseline tests that pass on ours, per file, and exits 1 when it is below
the floor (``tests/compat/reference_floor.txt``, or ``--floor``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import oracles  # noqa: E402

SDIST = "hivemind_bus_client==1.2.12a1"
BASELINE = ROOT / "tests" / "compat" / "reference_baseline.txt"
FLOOR = ROOT / "tests" / "compat" / "reference_floor.txt"
CACHE = Path(os.environ.get("HIVEMIND_CLIENT_CACHE_DIR") or ROOT / ".venvs") / "refsuite-sdist"
PYTEST_ARGS = ["--ignore=tests/e2e", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto", "-q",
               "-rN", "--no-header"]


def sdist_tests(python: Path, into: Path) -> Path:
    """The sdist's ``tests/`` unpacked into ``into`` (the sdist is downloaded once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    archives = sorted(CACHE.glob("hivemind_bus_client-1.2.12a1.tar.gz"))
    if not archives:
        subprocess.run([str(python), "-m", "pip", "download", "--disable-pip-version-check", "-q",
                        "--no-deps", "--no-binary", ":all:", "-d", str(CACHE), SDIST], check=True)
        archives = sorted(CACHE.glob("hivemind_bus_client-1.2.12a1.tar.gz"))
    with tarfile.open(archives[0]) as archive:
        members = [m for m in archive.getmembers() if "/tests/" in m.name and m.isfile()]
        for member in members:
            member.name = member.name.split("/", 1)[1]
        archive.extractall(into, members=members, filter="data")
    return into / "tests"


def run_suite(python: Path, work: Path, *, ours: bool, extra: list[str]) -> dict[str, bool]:
    """Run the suite; nodeid -> passed."""
    report = work / ("ours.xml" if ours else "reference.xml")
    home = work / ("home-ours" if ours else "home-reference")
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    if ours:
        env["PYTHONPATH"] = str(ROOT)
        command = [str(python), "-m", "hivemind_client.compat", "pytest", "--timeout=20",
                   "--continue-on-collection-errors"]
    else:
        command = [str(python), "-m", "pytest"]
    command += ["tests", *PYTEST_ARGS, f"--junitxml={report}", *extra]
    subprocess.run(command, cwd=work, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=900, check=False)
    results: dict[str, bool] = {}
    for case in ET.parse(report).iter("testcase"):
        path = case.get("classname", "").replace(".", "/")
        nodeid = f"{path}::{case.get('name')}"
        results[nodeid] = not any(child.tag in ("failure", "error", "skipped") for child in case)
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh-baseline", action="store_true")
    parser.add_argument("--floor", type=int, default=None)
    parser.add_argument("--failures", action="store_true", help="list the failing baseline tests")
    parser.add_argument("-k", default=None, help="pytest -k expression (partial runs skip the floor)")
    args = parser.parse_args(argv)
    extra = ["-k", args.k] if args.k else []
    ours_python = oracles.ensure("refsuite-compat")
    with tempfile.TemporaryDirectory(prefix="hivemind-refsuite-") as tmp:
        work = Path(tmp)
        sdist_tests(ours_python, work)
        if args.refresh_baseline or not BASELINE.exists():
            reference = run_suite(oracles.ensure("refsuite-ref"), work, ours=False, extra=[])
            passing = sorted(n for n, ok in reference.items() if ok)
            BASELINE.write_text("\n".join(passing) + "\n")
            print(f"baseline: {len(passing)} of {len(reference)} tests pass on the reference")
        baseline = [line for line in BASELINE.read_text().splitlines() if line]
        ours = run_suite(ours_python, work, ours=True, extra=extra)
    wanted = baseline if not args.k else [n for n in baseline if n in ours]
    passed = [n for n in wanted if ours.get(n)]
    per_file_total = Counter(n.split("/")[1].split("::")[0] for n in wanted)
    per_file_pass = Counter(n.split("/")[1].split("::")[0] for n in passed)
    for name, total in sorted(per_file_total.items(), key=lambda item: -item[1]):
        print(f"{per_file_pass[name]:5d} / {total:<5d} {name}")
    print(f"reference suite on hivemind_client.compat: {len(passed)} of {len(wanted)} "
          "reference-passing tests pass")
    if args.failures:
        for nodeid in wanted:
            if not ours.get(nodeid):
                print("FAIL", nodeid)
    floor = args.floor if args.floor is not None else int(FLOOR.read_text().split()[0])
    if not args.k and len(passed) < floor:
        print(f"below the recorded floor of {floor}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
