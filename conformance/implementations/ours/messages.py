"""Operations of the message-json suite, answered by hivemind_client."""

from __future__ import annotations

from typing import Any

from hivemind_client import decode_json

__all__ = ["OPERATIONS"]


def decode_message_json(inputs: dict[str, Any]) -> dict[str, Any]:
    """{text} -> {msg_type} of the validated message."""
    return {"msg_type": decode_json(inputs["text"]).msg_type.value}


OPERATIONS = {"decode_message_json": decode_message_json}
