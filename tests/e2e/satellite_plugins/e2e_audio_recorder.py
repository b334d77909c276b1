"""A hivemind-core binary-data plugin that records the RAW_AUDIO a satellite streams (e2e only).

Runs inside the hub's environment (``.venvs/hub-5.3``), never in ours, found through PYTHONPATH
and a generated ``*.dist-info`` (see e2e_wav_microphone.py) under the name ``e2e-audio-recorder``.
The hub's default binary handler only logs a chunk's length; this one keeps the bytes, so a test
can compare what arrived with what the satellite's microphone read.

server.json::

    "binary_protocol": {"module": "e2e-audio-recorder",
                        "e2e-audio-recorder": {"record_dir": "/path/to/dir"}}

It appends every chunk to ``record_dir/PEER.pcm`` and one JSON line per chunk to
``record_dir/PEER.jsonl`` ({"peer", "bytes", "sample_rate", "sample_width"}), PEER being the connection's
peer id with every character outside ``[A-Za-z0-9_.-]`` replaced by ``_`` (``peer_file_stem``).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hivemind_plugin_manager.protocols import BinaryDataHandlerProtocol

_LOCK = threading.Lock()


def peer_file_stem(peer: str) -> str:
    """The file name stem of a peer's recordings."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", peer)


@dataclass
class AudioRecorder(BinaryDataHandlerProtocol):
    """Keeps RAW_AUDIO chunks on disk; every other binary type falls back to the hub's logging."""

    def handle_microphone_input(
        self, bin_data: bytes, sample_rate: int, sample_width: int, client: Any
    ) -> None:
        peer = str(client.peer)
        record_dir, stem = Path(self.config["record_dir"]), peer_file_stem(peer)
        line = json.dumps(
            {
                "peer": peer,
                "bytes": len(bin_data),
                "sample_rate": sample_rate,
                "sample_width": sample_width,
            }
        )
        with _LOCK:  # the hub may call from more than one thread; keep pcm and index in step
            with open(record_dir / f"{stem}.pcm", "ab") as pcm:
                pcm.write(bin_data)
            with open(record_dir / f"{stem}.jsonl", "a", encoding="utf-8") as index:
                index.write(line + "\n")
