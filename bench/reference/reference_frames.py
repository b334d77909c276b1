"""Reference side of micro/bench_frames.py: runs under .venvs/ref-0.7, prints timings as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from hivemind_bus_client.message import (
    HiveMessage,
    HiveMessageType,
    HiveMindBinaryPayloadType,
)
from hivemind_bus_client.serialization import decode_bitstring, get_bitstring
from ovos_bus_client.message import Message

from bench.common.cases import BINARY_METADATA, BINARY_PAYLOAD, BUS_MESSAGE, BUS_METADATA
from bench.common.timing import best_time


def main() -> None:
    bus = HiveMessage(
        HiveMessageType.BUS,
        Message(BUS_MESSAGE["type"], BUS_MESSAGE["data"], BUS_MESSAGE["context"]),
        metadata=BUS_METADATA,
    )
    audio = HiveMindBinaryPayloadType.RAW_AUDIO

    def encode_bus(compressed: bool) -> bytes:
        return get_bitstring(HiveMessageType.BUS, bus.payload, compressed, bus.metadata).bytes

    def encode_binary() -> bytes:
        return get_bitstring(
            HiveMessageType.BINARY, BINARY_PAYLOAD, False, BINARY_METADATA, audio
        ).bytes

    frames = {"plain": encode_bus(False), "zlib": encode_bus(True), "bin": encode_binary()}
    results = {
        "bus_encode": best_time(lambda: encode_bus(False)),
        "bus_decode": best_time(lambda: decode_bitstring(frames["plain"])),
        "bus_encode_zlib": best_time(lambda: encode_bus(True)),
        "bus_decode_zlib": best_time(lambda: decode_bitstring(frames["zlib"])),
        "binary_encode": best_time(encode_binary, min_seconds=0.5),
        "binary_decode": best_time(lambda: decode_bitstring(frames["bin"]), min_seconds=0.5),
        "frames": {k: v.hex() if k != "bin" else str(len(v)) for k, v in frames.items()},
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
