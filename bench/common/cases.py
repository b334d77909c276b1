"""The inputs every frame benchmark uses, identical on our side and the reference's."""

from __future__ import annotations

import json
import random

BUS_MESSAGE = {
    "type": "recognizer_loop:utterance",
    "data": {"utterances": ["what is the weather like in lisbon today"], "lang": "en-US"},
    "context": {
        "source": "HiveMessageBusClientV0.0.1",
        "destination": "HiveMind",
        "session": {"session_id": "default", "site_id": "kitchen"},
    },
}
BUS_METADATA: dict[str, object] = {}
BINARY_PAYLOAD = random.Random(1).randbytes(1 << 20)
BINARY_METADATA = {"sample_rate": 16000, "sample_width": 2, "lang": "en-US"}
BUS_SIZE = len(json.dumps(BUS_MESSAGE))
