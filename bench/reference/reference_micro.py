"""Reference side of the suite's codec and crypto rows: runs under .venvs/ref-0.7.

Reads one JSON request a line, ``{"op", "size", "cipher", "target"}``; the first request for a
case calibrates its loop to about ``target`` seconds, every request runs one repeat and answers
with the mean seconds per call. The cases mirror ``micro.ours_case``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from hivemind_bus_client.encryption import (
    decrypt_bin,
    decrypt_from_json,
    encrypt_as_json,
    encrypt_bin,
)
from hivemind_bus_client.message import HiveMessageType, HiveMindBinaryPayloadType
from hivemind_bus_client.serialization import decode_bitstring, get_bitstring
from ovos_bus_client.message import Message

from bench.common.sizes import BINARY_METADATA, ENCODING, KEY, blob, bus_payload, message_text
from bench.common.timing import Repeater

AUDIO = HiveMindBinaryPayloadType.RAW_AUDIO


def case(op: str, size: int, cipher: str) -> Callable[[], object]:
    """The reference's call for one case."""
    if op.startswith("bus_"):
        raw = bus_payload(size)
        message = Message(raw["type"], raw["data"], raw["context"])

        def bus_encode() -> bytes:
            return get_bitstring(HiveMessageType.BUS, message, False, {}).bytes

        frame = bus_encode()
        return bus_encode if op == "bus_encode" else lambda: decode_bitstring(frame)
    if op.startswith("bin_") and op.endswith("code"):
        data = blob(size)

        def bin_encode() -> bytes:
            return get_bitstring(HiveMessageType.BINARY, data, False, BINARY_METADATA, AUDIO).bytes

        frame = bin_encode()
        return bin_encode if op == "bin_encode" else lambda: decode_bitstring(frame)
    if op.startswith("json_"):
        text = message_text(size)
        envelope = encrypt_as_json(KEY, text, cipher, ENCODING)
        if op == "json_seal":
            return lambda: encrypt_as_json(KEY, text, cipher, ENCODING)
        return lambda: decrypt_from_json(KEY, envelope, cipher, ENCODING)
    data = blob(size)
    sealed = encrypt_bin(KEY, data, cipher)
    if op == "bin_seal":
        return lambda: encrypt_bin(KEY, data, cipher)
    return lambda: decrypt_bin(KEY, sealed, cipher)


def main() -> None:
    loops: dict[str, Repeater] = {}
    for line in sys.stdin:
        request = json.loads(line)
        key = f"{request['op']} {request['size']} {request['cipher']}"
        if key not in loops:
            loops[key] = Repeater(
                case(request["op"], request["size"], request["cipher"]), request["target"]
            )
        print(json.dumps(loops[key]()), flush=True)


if __name__ == "__main__":
    main()
