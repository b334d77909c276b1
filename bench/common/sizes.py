"""Size-parametrised inputs shared by our side and the reference's (stdlib only, runs in any venv).

Every input is deterministic, so both sides encode, seal and send exactly the same bytes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

#: The message sizes of the suite: 100 B, 1 KiB, 64 KiB, 1 MiB.
SIZES = (100, 1 << 10, 1 << 16, 1 << 20)
#: Sizes at which the "at least 5x faster than the reference" goal applies.
SMALL_SIZES = (100, 1 << 10)
KEY = bytes(range(32))  # AES-256 / ChaCha20 key, as a password handshake produces
CIPHERS = ("AES-GCM", "CHACHA20-POLY1305")
ENCODING = "JSON-B64"  # what our client negotiates with a default hub
BINARY_METADATA = {"sample_rate": 16000, "sample_width": 2}
FLOOD_TYPE = "bench.flood"


def label(size: int) -> str:
    """``100 B``, ``1 KiB``, ``64 KiB``, ``1 MiB``."""
    if size >= 1 << 20:
        return f"{size >> 20} MiB"
    if size >= 1 << 10:
        return f"{size >> 10} KiB"
    return f"{size} B"


def _padded(build: Callable[[str], object], size: int) -> object:
    """``build(pad)`` with the pad string chosen so its compact-ish JSON is ``size`` bytes."""
    overhead = len(json.dumps(build("")))
    return build("x" * max(0, size - overhead))


def bus_payload(size: int) -> dict[str, object]:
    """An OVOS message (type/data/context) whose JSON is ``size`` bytes."""
    payload = _padded(
        lambda pad: {
            "type": "recognizer_loop:utterance",
            "data": {"utterances": ["hi"], "pad": pad},
            "context": {},
        },
        size,
    )
    assert isinstance(payload, dict)
    return payload


def message_text(size: int) -> str:
    """A serialized BUS HiveMessage envelope of ``size`` characters (what seal_json gets)."""
    envelope = _padded(
        lambda pad: {
            "msg_type": "bus",
            "payload": {"type": "speak", "data": {"utterance": pad}, "context": {}},
            "metadata": {},
            "route": [],
            "node": None,
        },
        size,
    )
    return json.dumps(envelope)


def blob(size: int) -> bytes:
    """``size`` incompressible bytes (the same on every run)."""
    return random.Random(size).randbytes(size)


def flood_data(run: str, index: int, size: int) -> dict[str, object]:
    """The ``data`` of one flood message; the whole BUS payload is about ``size`` bytes."""
    return {"run": run, "n": index, "pad": "x" * max(0, size - 160)}
