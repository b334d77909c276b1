"""Run vector files against an implementation and report."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from hivemind_client import HiveMindError
from hivemind_client.wire.validation import validate_conformance_file

from .impl import Implementation, OperationFailed, Unsupported, VectorFailed
from .suites import SUITES

__all__ = ["FORMAT", "Report", "collect_files", "load_deviations", "run_files"]

FORMAT = "hivemind-conformance/1"


@dataclass
class Report:
    """Outcome counts per suite, failure lines, and file-level problems."""

    implementation: str
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    failure_reasons: dict[str, str] = field(default_factory=dict)

    def add(self, suite: str, outcome: str) -> None:
        self.counts.setdefault(suite, Counter())[outcome] += 1

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())

    @property
    def ok(self) -> bool:
        return not self.problems and self.total("failed") == 0


def collect_files(paths: list[str]) -> list[Path]:
    """Vector files named directly, or every *.json below a directory, in a stable order."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(path.rglob("*.json")))
        else:
            files.append(path)
    return files


def load_file(path: Path) -> dict[str, Any]:
    """Read and check one vector file; raises ValueError with a readable reason."""
    try:
        document = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"unreadable: {exc}") from None
    try:
        validate_conformance_file(document)
    except HiveMindError as exc:
        raise ValueError(f"not a {FORMAT} file: {exc}") from None
    if document["format"] != FORMAT:
        raise ValueError(f"format {document['format']!r} is not {FORMAT}")
    ids = Counter(v["id"] for v in document["vectors"])
    duplicates = sorted(i for i, n in ids.items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate vector ids: {', '.join(duplicates[:5])}")
    return dict(document)


def load_deviations(implementation: str, directory: Path) -> dict[str, str]:
    """Known deviations of an implementation: ``{"<file stem>/<vector id>": reason}``."""
    path = directory / f"{implementation}.json"
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text())["deviations"])


def run_files(
    files: list[Path], impl: Implementation, out: TextIO, deviations: dict[str, str] | None = None
) -> Report:
    """Run every vector of every file; print one line per unexpected failure.

    A failure listed in ``deviations`` counts as ``deviates`` (known, reported, not fatal); a
    listed vector that does not exist in a file that ran is a problem, so the list stays true.
    """
    deviations = deviations or {}
    report = Report(impl.name)
    seen: set[str] = set()
    stems: set[str] = set()
    for path in files:
        try:
            document = load_file(path)
        except ValueError as exc:
            report.problems.append(f"{path}: {exc}")
            print(f"ERROR {path}: {exc}", file=out)
            continue
        suite = document["suite"]
        checker = SUITES.get(suite)
        if checker is None:
            report.problems.append(f"{path}: unknown suite {suite!r}")
            print(f"ERROR {path}: unknown suite {suite!r}", file=out)
            continue
        stems.add(path.stem)
        for vector in document["vectors"]:
            key = f"{path.stem}/{vector['id']}"
            seen.add(key)
            outcome, why = _run_one(checker, vector, impl)
            if outcome == "failed":
                report.failure_reasons[key] = why
                if key in deviations:
                    outcome = "deviates"
                else:
                    print(f"FAIL {path.name} {vector['id']}: {why}", file=out)
            report.add(suite, outcome)
    for key in sorted(deviations):
        if key.split("/", 1)[0] in stems and key not in seen:
            report.problems.append(f"known deviation {key} names no vector")
    return report


def _run_one(checker: Any, vector: dict[str, Any], impl: Implementation) -> tuple[str, str]:
    try:
        checker(vector, impl)
    except VectorFailed as exc:
        return "failed", str(exc)
    except OperationFailed as exc:
        return "failed", f"unexpected error {exc}"
    except Unsupported as exc:
        return "unsupported", f"operation {exc} not supported"
    except (KeyError, TypeError, ValueError) as exc:
        return "failed", f"malformed outputs or vector ({type(exc).__name__}: {exc})"
    return "passed", ""
