"""Frame codec benchmark: ours vs the reference hivemind_bus_client 0.7.0a2, in one run.

    .venv/bin/python bench/micro/bench_frames.py

Encode = HiveMessage -> frame bytes; decode = frame bytes -> HiveMessage. The reference runs
in its own virtual environment (scripts/oracles.py builds it) on the same inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from bench.common.cases import BINARY_METADATA, BINARY_PAYLOAD, BUS_MESSAGE, BUS_METADATA, BUS_SIZE
from bench.common.paths import BENCH
from bench.common.timing import best_time
from bench.common.worker import oracle_python
from hivemind_client import (
    BinaryPayloadType,
    HiveMessage,
    Message,
    decode_binary,
    encode_binary,
)


def reference_timings() -> dict[str, object]:
    python = oracle_python("ref-0.7")
    out = subprocess.run(
        [python, str(BENCH / "reference" / "reference_frames.py")],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def shift_left_4(data: bytes) -> bytes:
    """One bare 4-bit shift of a buffer in Python: the floor for unaligned payload handling."""
    return ((int.from_bytes(data, "big") << 4) & ((1 << (8 * len(data))) - 1)).to_bytes(
        len(data), "big"
    )


def main() -> None:
    bus = HiveMessage(
        "bus",
        Message(BUS_MESSAGE["type"], BUS_MESSAGE["data"], BUS_MESSAGE["context"]),
        metadata=BUS_METADATA,
    )
    binary = HiveMessage(
        "bin", BINARY_PAYLOAD, bin_type=BinaryPayloadType.RAW_AUDIO, metadata=BINARY_METADATA
    )
    frames = {
        "plain": encode_binary(bus, compress=False),
        "zlib": encode_binary(bus, compress=True),
        "bin": encode_binary(binary, compress=False),
    }
    ours = {
        "bus_encode": best_time(lambda: encode_binary(bus, compress=False)),
        "bus_decode": best_time(lambda: decode_binary(frames["plain"])),
        "bus_encode_zlib": best_time(lambda: encode_binary(bus, compress=True)),
        "bus_decode_zlib": best_time(lambda: decode_binary(frames["zlib"])),
        "binary_encode": best_time(lambda: encode_binary(binary, compress=False), min_seconds=0.5),
        "binary_decode": best_time(lambda: decode_binary(frames["bin"]), min_seconds=0.5),
    }
    shift = best_time(lambda: shift_left_4(BINARY_PAYLOAD), min_seconds=0.5)
    reference = reference_timings()
    ref_frames = reference["frames"]
    assert isinstance(ref_frames, dict)
    same = (
        ref_frames["plain"] == frames["plain"].hex() and ref_frames["zlib"] == frames["zlib"].hex()
    )

    print(
        f"Frame codec, ours vs hivemind_bus_client 0.7.0a2 (BUS message: {BUS_SIZE} bytes of JSON;"
        f" BINARY: 1 MiB RAW_AUDIO)"
    )
    print(f"frames byte-identical to the reference: {same}")
    print(f"{'case':<34}{'ours':>12}{'reference':>12}{'speed-up':>10}")
    labels = {
        "bus_encode": "BUS encode (HiveMessage -> frame)",
        "bus_decode": "BUS decode (frame -> HiveMessage)",
        "bus_encode_zlib": "BUS encode, compressed",
        "bus_decode_zlib": "BUS decode, compressed",
        "binary_encode": "1 MiB BINARY encode",
        "binary_decode": "1 MiB BINARY decode",
    }
    for key, label in labels.items():
        ref = float(reference[key])  # type: ignore[arg-type]
        print(f"{label:<34}{_fmt(ours[key]):>12}{_fmt(ref):>12}{ref / ours[key]:>9.1f}x")
    print(f"{'1 MiB bare 4-bit shift (floor)':<34}{_fmt(shift):>12}")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


if __name__ == "__main__":
    main()
