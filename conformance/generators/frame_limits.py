# oracle: ref-0.7
"""Generate encode-side negative `frame` vectors: metadata that cannot fit the 8-bit length field.

    .venvs/ref-0.7/bin/python conformance/generators/frame_limits.py OUTDIR

A `frame` vector with `error` and no `frame_hex` is negative in the encode direction: encoding
its fields must fail with that code. The expectation comes from the frame format (the metadata
length field is 8 bits); each note records what the 0.7.0a2 reference encoder does instead.
"""

from __future__ import annotations

import json
import random
import sys
import zlib
from pathlib import Path

from _vectorfile import write_vector_file
from hivemind_bus_client.message import HiveMessageType
from hivemind_bus_client.serialization import get_bitstring


def reference_outcome(metadata_text: str, compressed: bool) -> str:
    try:
        get_bitstring(HiveMessageType.BUS, '{"type": "x"}', compressed, metadata_text)
    except Exception as exc:  # recorded, not judged
        return f"0.7.0a2 raises {type(exc).__name__}: {str(exc)[:80]}"
    return "0.7.0a2 encodes it (the length field overflows)"


def main() -> None:
    out = Path(sys.argv[1])
    rng = random.Random(255)
    plain_256 = json.dumps({"note": "x" * 244})
    assert len(plain_256) == 256
    noise = json.dumps({"blob": rng.randbytes(300).hex()})
    assert len(zlib.compress(noise.encode())) > 255
    cases = [
        ("metadata-256-bytes-plain", plain_256, False),
        ("metadata-1000-bytes-plain", json.dumps({"note": "y" * 988}), False),
        ("metadata-incompressible-compressed", noise, True),
    ]
    vectors = []
    for name, text, compressed in cases:
        vectors.append(
            {
                "id": name,
                "msg_type": "bus",
                "compressed": compressed,
                "versioned": False,
                "metadata_json": text,
                "payload_json": '{"type": "x"}',
                "error": "metadata-too-large",
                "note": reference_outcome(text, compressed),
            }
        )
    write_vector_file(
        out / "frame-limits.json",
        "frame",
        "conformance/generators/frame_limits.py: encode-side limits of the frame format",
        vectors,
    )


if __name__ == "__main__":
    main()
