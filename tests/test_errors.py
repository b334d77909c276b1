"""The error hierarchy: stable, unique codes covering the conformance format."""

from __future__ import annotations

import re
from pathlib import Path

from hivemind_client import errors
from hivemind_client.errors import HiveMindError, LocalError, RemoteError, error_codes

CONFORMANCE_CODES = {
    "truncated-frame",
    "unknown-message-type",
    "unsupported-version",
    "corrupt-compression",
    "invalid-json",
    "invalid-payload",
    "metadata-too-large",
    "payload-too-large",
    "authentication-failed",
    "invalid-encoding",
    "invalid-key-size",
    "unknown-cipher",
    "handshake-failed",
}


def _classes() -> list[type[HiveMindError]]:
    return [
        getattr(errors, name) for name in errors.__all__ if isinstance(getattr(errors, name), type)
    ]


def test_codes_are_unique_and_cover_the_conformance_format() -> None:
    # a class may share its parent's code (InvalidFrameJSON is an InvalidJSON); every code
    # still names one class
    codes = [cls.code for cls in _classes() if "code" in vars(cls)]
    assert len(codes) == len(set(codes))
    assert set(codes) >= CONFORMANCE_CODES
    assert set(error_codes()) == set(codes)


def test_every_error_is_local_or_remote() -> None:
    for cls in _classes():
        if cls in (HiveMindError, LocalError, RemoteError):
            continue
        assert issubclass(cls, LocalError) != issubclass(cls, RemoteError), cls


def test_module_docstring_draws_every_class() -> None:
    doc = errors.__doc__ or ""
    for cls in _classes():
        assert re.search(rf"\b{cls.__name__}\b", doc), cls.__name__
        if cls not in (HiveMindError, LocalError, RemoteError, errors.FrameError):
            assert cls.code in doc, cls.code


def _doc_section(heading: str) -> str:
    doc = Path(__file__).resolve().parents[1] / "docs" / "conformance.md"
    return doc.read_text().split(heading)[1].split("\n## ")[0]


def test_conformance_doc_codes_match() -> None:
    section = _doc_section("## 3. Error codes").split("**Codes of the library only**")[0]
    listed = set(re.findall(r"^\| `([a-z]+(?:-[a-z]+)+)` \|", section, re.MULTILINE))
    assert listed == CONFORMANCE_CODES


def test_conformance_doc_lists_every_code() -> None:
    section = _doc_section("## 3. Error codes")
    listed = set(re.findall(r"`([a-z]+(?:-[a-z]+)+)`", section))
    assert set(errors.error_codes()) <= listed


def test_a_frame_json_error_is_both_invalid_json_and_a_frame_error() -> None:
    assert issubclass(errors.InvalidFrameJSON, errors.InvalidJSON)
    assert issubclass(errors.InvalidFrameJSON, errors.FrameError)
    assert errors.InvalidFrameJSON.code == "invalid-json"
    assert error_codes()["invalid-json"] is errors.InvalidJSON
