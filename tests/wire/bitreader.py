"""An independent, deliberately naive bit-level frame reader used to cross-check the codec.

It shares no code with hivemind_client or the generated parser: it turns the frame into a
string of '0'/'1' characters and reads PROTOCOL.md's layout off it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NaiveFrame:
    type_code: int
    versioned: bool
    version: int | None
    compressed: bool
    metadata: bytes
    bin_type: int | None
    payload: bytes


def read_naive(frame: bytes, binary_code: int = 12) -> NaiveFrame:
    bits = "".join(f"{byte:08b}" for byte in frame)
    pos = bits.index("1")  # skip the zero padding up to the start bit
    pos += 1

    def take(n: int) -> int:
        nonlocal pos
        value = int(bits[pos : pos + n], 2)
        pos += n
        return value

    versioned = bool(take(1))
    version = take(8) if versioned else None
    type_code = take(5)
    compressed = bool(take(1))
    size = take(8)
    metadata = bytes(take(8) for _ in range(size))
    bin_type = take(4) if type_code == binary_code else None
    rest = bits[pos:]
    assert len(rest) % 8 == 0, "payload is not whole bytes"
    payload = bytes(int(rest[i : i + 8], 2) for i in range(0, len(rest), 8))
    return NaiveFrame(type_code, versioned, version, compressed, metadata, bin_type, payload)
