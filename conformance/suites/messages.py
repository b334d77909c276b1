"""The ``message-json`` suite: JSON text frames validated against the message schema."""

from __future__ import annotations

from typing import Any

from ..impl import Implementation, VectorFailed, expect_error

__all__ = ["SUITES"]


def check_message_json(vector: dict[str, Any], impl: Implementation) -> None:
    """decode_message_json(text) gives msg_type, or fails with the vector's error code."""
    inputs = {"text": vector["text"]}
    if "error" in vector:
        expect_error(impl, "decode_message_json", inputs, vector["error"])
        return
    outputs = impl.call("decode_message_json", inputs)
    if outputs.get("msg_type") != vector["msg_type"]:
        raise VectorFailed(
            f"msg_type is {outputs.get('msg_type')!r}, expected {vector['msg_type']!r}"
        )


SUITES = {"message-json": check_message_json}
