"""python -m conformance: run HiveMind conformance vectors against an implementation.

python -m conformance run [--impl NAME] PATH...   run vector files (or directories of them)
python -m conformance suites                      list the suites this runner knows
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .ours import OurImplementation
from .runner import Report, collect_files, run_files
from .suites import SUITES

__all__ = ["main"]


def implementation(name: str) -> OurImplementation:
    """The implementation called ``name``."""
    if name == "ours":
        return OurImplementation()
    raise SystemExit(f"unknown implementation {name!r} (known: ours)")


def print_summary(report: Report) -> None:
    """A table of outcomes per suite, then the closing line."""
    print()
    print(
        f"{'suite':<22} {'passed':>7} {'failed':>7} {'unsupported':>12}   ({report.implementation})"
    )
    for suite in sorted(report.counts):
        c = report.counts[suite]
        print(f"{suite:<22} {c['passed']:>7} {c['failed']:>7} {c['unsupported']:>12}")
    for problem in report.problems:
        print(f"problem: {problem}")
    print(f"{report.total('passed')} passed, {report.total('failed')} failed")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance", description="HiveMind conformance vectors"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run vector files against an implementation")
    run.add_argument("paths", nargs="+", help="vector files or directories")
    run.add_argument("--impl", default="ours", help="implementation to test (default: ours)")
    commands.add_parser("suites", help="list known suites")
    args = parser.parse_args(argv)
    if args.command == "suites":
        for name in sorted(SUITES):
            print(name)
        return 0
    files = collect_files(args.paths)
    if not files:
        print("no vector files found", file=sys.stderr)
        return 2
    impl = implementation(args.impl)
    try:
        report = run_files(files, impl, sys.stdout)
    finally:
        impl.close()
    print_summary(report)
    return 0 if report.ok and report.total("passed") > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
