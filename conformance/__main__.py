"""hivemind-conformance (python -m conformance in a checkout): HiveMind conformance vectors.

    hivemind-conformance run [--impl NAME]... [--adapter NAME=COMMAND]... [PATH...]
    hivemind-conformance path [NAME]                 where the shipped vectors, spec, adapters are
    hivemind-conformance generate [--out DIR]        regenerate vectors (source checkout only)
    hivemind-conformance serve                       our library as an adapter process
    hivemind-conformance suites                      list the suites this runner knows

``run`` without a PATH runs the vectors shipped with the package. Implementations: ``ours``
(in-process, the default), ``ours-pipe`` (ours behind the adapter protocol), ``reference-0.7``
and ``reference-1.2`` (hivemind_bus_client in venvs built by scripts/oracles.py: source
checkout only), or any program given with ``--adapter NAME=COMMAND`` (see docs/conformance.md,
installed as ``hivemind-conformance path spec``).
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
from .shipped import PACKAGE, PATHS, KitError, need_checkout, shipped
from .suites import SUITES

__all__ = ["main"]

PROG = "hivemind-conformance"
REFERENCES = {"reference-0.7": "ref-0.7", "reference-1.2": "ref-1.2"}


def oracle_python(environment: str) -> str:
    """Build (once) and return the interpreter of an oracle environment (source checkout only)."""
    root = need_checkout(
        f"the oracle environment {environment} needs a source checkout of hivemind-client"
        " (scripts/oracles.py builds it)"
    )
    try:
        result = subprocess.run(
            [sys.executable, str(root / "scripts" / "oracles.py"), "ensure", environment],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        raise AdapterError(
            f"scripts/oracles.py ensure {environment} failed (exit {exc.returncode});"
            " building it needs PyPI access"
        ) from None
    return result.stdout.strip().splitlines()[-1]


def check_names(names: list[str], adapters: dict[str, str]) -> None:
    """Refuse, before running anything, an unknown name or a reference outside a checkout."""
    known = ["ours", "ours-pipe", *REFERENCES, *adapters]
    for name in names:
        if name not in known:
            raise KitError(f"unknown implementation {name!r} (known: {', '.join(known)})")
        if name in REFERENCES and name not in adapters:
            need_checkout(
                f"--impl {name} needs a source checkout of hivemind-client (scripts/oracles.py"
                " builds its venv); with your own Python that has hivemind_bus_client, use"
                f' --adapter "{name}=PYTHON $({PROG} path reference-adapter)"'
            )


def implementation(name: str, adapters: dict[str, str]) -> Implementation:
    """The implementation called ``name``."""
    from .adapter import ProcessImplementation

    if name in adapters:
        return ProcessImplementation(name, shlex.split(adapters[name]))
    if name == "ours":
        from .implementations.ours import OurImplementation

        return OurImplementation()
    if name == "ours-pipe":
        # This very package, as a child process: hivemind_conformance when installed, conformance
        # in a checkout (importable from the checkout's root only).
        cwd = str(Path(__file__).resolve().parents[1]) if PACKAGE == "conformance" else None
        return ProcessImplementation(name, [sys.executable, "-m", PACKAGE, "serve"], cwd=cwd)
    if name in REFERENCES:
        python = oracle_python(REFERENCES[name])
        return ProcessImplementation(name, [python, str(shipped("reference-adapter"))])
    raise KitError(f"unknown implementation {name!r}")


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
    files = collect_files(args.paths or [str(shipped("vectors"))])
    if not files:
        print("no vector files found", file=sys.stderr)
        return 2
    bad = [spec for spec in args.adapter if "=" not in spec]
    if bad:
        raise KitError(f"--adapter {bad[0]!r} is not NAME=COMMAND")
    adapters = dict(spec.split("=", 1) for spec in args.adapter)
    names = args.impl or (list(adapters) if adapters else ["ours"])
    check_names(names, adapters)
    deviations = shipped("deviations")
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
            report = run_files(files, impl, sys.stdout, load_deviations(name, deviations))
        except AdapterError as exc:
            print(f"ERROR {name}: {exc}")
            report = Report(name, problems=[str(exc)])
        finally:
            impl.close()
        reports.append(report)
    print_table(reports)
    if args.record_deviations:
        for report in reports:
            path = deviations / f"{report.implementation}.json"
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


def show_path(name: str | None) -> int:
    """Print where a shipped file is (or every one, NAME<TAB>PATH)."""
    if name is not None:
        print(shipped(name))
        return 0
    for each in PATHS:
        print(f"{each}\t{shipped(each)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a KitError ends it with one line on stderr and exit status 2."""
    try:
        return _main(argv)
    except KitError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="HiveMind conformance vectors: run them against any implementation",
        epilog=f'JavaScript example adapter: {PROG} run --adapter "js=node $({PROG} path js-adapter)"',
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run vector files against implementations")
    run_parser.add_argument(
        "paths", nargs="*", help="vector files or directories (default: the shipped vectors)"
    )
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
    path_parser = commands.add_parser(
        "path", help="print where a shipped file is: " + ", ".join(PATHS) + " (default: all)"
    )
    path_parser.add_argument("name", nargs="?", choices=list(PATHS))
    generate = commands.add_parser(
        "generate", help="regenerate the vectors from the reference (source checkout only)"
    )
    generate.add_argument("--out", help="output directory (default: conformance/vectors)")
    commands.add_parser("serve", help="serve our library over the adapter protocol (stdin/stdout)")
    commands.add_parser("suites", help="list known suites")
    args = parser.parse_args(argv)
    if args.command == "suites":
        for name in sorted(SUITES):
            print(name)
        return 0
    if args.command == "path":
        return show_path(args.name)
    if args.command == "serve":
        from .implementations.ours import serve_ours

        serve_ours()
        return 0
    if args.command == "generate":
        from .generate import generate_all

        root = need_checkout(
            "generate needs a source checkout of hivemind-client (the generators and"
            " scripts/oracles.py are not installed); run python -m conformance generate in a clone"
        )
        return generate_all(Path(args.out) if args.out else root / "conformance" / "vectors")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
