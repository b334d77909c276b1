"""The ``frame`` and ``frame-invalid`` suites."""

from __future__ import annotations

import json
from typing import Any

from ..impl import Implementation, VectorFailed, expect_error

__all__ = ["SUITES"]

_OPTIONAL_FLAGS = ("compressed", "versioned")
_FIELDS = (
    "msg_type",
    "compressed",
    "versioned",
    "metadata_json",
    "payload_json",
    "payload_hex",
    "bin_type",
)


def check_frame(vector: dict[str, Any], impl: Implementation) -> None:
    """decode(frame_hex) gives the vector's fields; encode(fields) gives frame_hex.

    A vector with ``error`` (and no ``frame_hex``) is negative the other way: encoding its
    fields must fail with that code.
    """
    expected = {name: vector[name] for name in _FIELDS if name in vector}
    if "error" in vector:
        expect_error(impl, "encode_frame", expected, vector["error"])
        return
    decoded = impl.call("decode_frame", {"frame_hex": vector["frame_hex"]})
    for name, expected_value in expected.items():
        want = expected_value
        if name in _OPTIONAL_FLAGS and name not in decoded:
            continue  # the decoder does not expose the flag; encode still checks it exactly
        value_name = name.replace("_json", "_value")
        if name not in decoded and value_name in decoded:
            # An implementation that only yields parsed JSON is held to the JSON value.
            have, want = decoded[value_name], json.loads(expected_value) if expected_value else {}
        else:
            have = decoded.get(name)
        if have != want:
            raise VectorFailed(f"decode: {name} is {_short(have)}, expected {_short(want)}")
    encoded = impl.call("encode_frame", expected)["frame_hex"]
    if encoded != vector["frame_hex"]:
        raise VectorFailed(
            f"encode: frame differs ({len(encoded) // 2} bytes, expected {len(vector['frame_hex']) // 2};"
            f" first difference at byte {_first_difference(encoded, vector['frame_hex']) // 2})"
        )


def check_frame_invalid(vector: dict[str, Any], impl: Implementation) -> None:
    """Decoding the frame into a message fails with the vector's error code."""
    expect_error(impl, "decode_message_frame", {"frame_hex": vector["frame_hex"]}, vector["error"])


def _first_difference(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


SUITES = {"frame": check_frame, "frame-invalid": check_frame_invalid}
