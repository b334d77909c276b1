"""python -m conformance: HiveMind conformance vectors, for any implementation.

    python -m conformance run [--impl NAME]... [--adapter NAME=COMMAND]... PATH...
    python -m conformance generate [--out DIR]       regenerate vectors from the reference
    python -m conformance serve                      our library as an adapter process
    python -m conformance suites                     list the suites this runner knows

Implementations: ``ours`` (in-process, the default), ``ours-pipe`` (ours behind the adapter
protocol), ``reference-0.7`` and ``reference-1.2`` (hivemind_bus_client in isolated venvs),
or any program given with ``--adapter NAME=COMMAND`` (see conformance/README.md).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .adapter import AdapterError
from .impl import Implementation
from .runner import Report, collect_files, load_deviations, run_files
from .suites import SUITES

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REFERENCES = {"reference-0.7": "ref-0.7", "reference-1.2": "ref-1.2"}


def oracle_python(environment: str) -> str:
    """Build (once) and return the interpreter of an oracle environment."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "oracles.py"), "ensure", environment],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]


def implementation(name: str, adapters: dict[str, str]) -> Implementation:
    """The implementation called ``name``."""
    from .adapter import ProcessImplementation

    if name == "ours":
        from .implementations.ours import OurImplementation

        return OurImplementation()
    if name == "ours-pipe":
        return ProcessImplementation(
            name, [sys.executable, "-m", "conformance", "serve"], cwd=str(ROOT)
        )
    if name in REFERENCES:
        python = oracle_python(REFERENCES[name])
        return ProcessImplementation(name, [python, str(HERE / "adapters" / "reference.py")])
    if name in adapters:
        return ProcessImplementation(name, shlex.split(adapters[name]))
    known = ", ".join(["ours", "ours-pipe", *REFERENCES, *adapters])
    raise SystemExit(f"unknown implementation {name!r} (known: {known})")


def print_table(reports: list[Report]) -> None:
    """Suite x implementation: passed / failed / deviates (known) / unsupported."""
    suites = sorted({suite for report in reports for suite in report.counts})
    width = max([len(s) for s in suites] + [5])
    print()
    print(f"{'suite':<{width}}  " + "  ".join(f"{r.implementation:^26}" for r in reports))
    print(
        f"{'':<{width}}  "
        + "  ".join(f"{'pass':>5} {'fail':>5} {'known':>6} {'unsup':>6}" for _ in reports)
    )
    for suite in suites:
        cells = []
        for report in reports:
            c = report.counts.get(suite)
            if c is None:
                cells.append(f"{'-':>5} {'-':>5} {'-':>6} {'-':>6}")
            else:
                cells.append(
                    f"{c['passed']:>5} {c['failed']:>5} {c['deviates']:>6} {c['unsupported']:>6}"
                )
        print(f"{suite:<{width}}  " + "  ".join(cells))
    for report in reports:
        for problem in report.problems:
            print(f"problem ({report.implementation}): {problem}")


def run(args: argparse.Namespace) -> int:
    files = collect_files(args.paths)
    if not files:
        print("no vector files found", file=sys.stderr)
        return 2
    adapters = dict(spec.split("=", 1) for spec in args.adapter)
    names = args.impl or (list(adapters) if adapters else ["ours"])
    reports = []
    for name in names:
        try:
            impl = implementation(name, adapters)
        except AdapterError as exc:
            print(f"ERROR {name}: {exc}")
            reports.append(Report(name, problems=[str(exc)]))
            continue
        print(f"== {name}: {getattr(impl, 'description', name)}")
        try:
            report = run_files(files, impl, sys.stdout, load_deviations(name, HERE / "deviations"))
        except AdapterError as exc:
            print(f"ERROR {name}: {exc}")
            report = Report(name, problems=[str(exc)])
        finally:
            impl.close()
        reports.append(report)
    print_table(reports)
    if args.record_deviations:
        for report in reports:
            path = HERE / "deviations" / f"{report.implementation}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(
                json.dumps(
                    {"implementation": report.implementation, "deviations": report.failure_reasons},
                    indent=1,
                    sort_keys=True,
                )
                + "\n"
            )
            print(f"recorded {len(report.failure_reasons)} deviations in {path}")
    passed = sum(r.total("passed") for r in reports)
    failed = sum(r.total("failed") for r in reports)
    print(f"{passed} passed, {failed} failed")
    ok = all(r.ok for r in reports) and passed > 0
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance", description="HiveMind conformance vectors"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run vector files against implementations")
    run_parser.add_argument("paths", nargs="+", help="vector files or directories")
    run_parser.add_argument(
        "--impl", action="append", default=[], help="implementation (repeatable; default: ours)"
    )
    run_parser.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="an adapter process to test, e.g. js='node my-adapter.js'",
    )
    run_parser.add_argument(
        "--record-deviations",
        action="store_true",
        help="write each implementation's failures as its known deviations",
    )
    generate = commands.add_parser("generate", help="regenerate the vectors from the reference")
    generate.add_argument("--out", default=str(HERE / "vectors"), help="output directory")
    commands.add_parser("serve", help="serve our library over the adapter protocol (stdin/stdout)")
    commands.add_parser("suites", help="list known suites")
    args = parser.parse_args(argv)
    if args.command == "suites":
        for name in sorted(SUITES):
            print(name)
        return 0
    if args.command == "serve":
        from .implementations.ours import serve_ours

        serve_ours()
        return 0
    if args.command == "generate":
        from .generate import generate_all

        return generate_all(Path(args.out))
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
