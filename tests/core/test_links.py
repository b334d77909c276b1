"""What the links put on the wire: binary frames, and the text fallback for big metadata."""

from __future__ import annotations

import secrets

import pytest

from hivemind_client import HiveMessage, Message
from hivemind_client.core.links import LegacyLink
from hivemind_client.errors import MetadataTooLarge
from hivemind_client.wire.message_types import HiveMessageType

KEY = bytes(range(32))


def _link() -> LegacyLink:
    return LegacyLink(KEY, "AES-GCM", "JSON-B64", binarize=True, compress=None, nonce_window=0)


def _big_metadata() -> dict[str, str]:
    return {"blob": secrets.token_hex(300)}  # random: deflate cannot bring it under 255 bytes


def test_binarized_messages_go_as_binary_frames() -> None:
    (frame,) = _link().outgoing(HiveMessage(HiveMessageType.BUS, Message("speak", {})))
    assert isinstance(frame, bytes)


def test_metadata_over_255_bytes_falls_back_to_a_text_frame() -> None:
    message = HiveMessage(HiveMessageType.BUS, Message("speak", {"x": 1}), metadata=_big_metadata())
    (frame,) = _link().outgoing(message)
    assert isinstance(frame, str)
    received = _link().incoming(frame)
    assert received.metadata == message.metadata
    assert received.payload.data == {"x": 1}


def test_binary_with_metadata_over_255_bytes_is_refused() -> None:
    """A BINARY payload has no text form."""
    message = HiveMessage(HiveMessageType.BINARY, b"audio", metadata=_big_metadata())
    with pytest.raises(MetadataTooLarge):
        _link().outgoing(message)
