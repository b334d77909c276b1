"""Write the seed inputs of every fuzz target into ``tests/fuzz/corpus/<target>/seed-*``.

    .venv/bin/python tests/fuzz/seed_corpus.py

Seeds come from the conformance vectors (frames, messages, encodings, handshakes) and from our
own encoders with the fuzz targets' fixed keys, so the fuzzers start past the easy refusals.
Only needed to start a corpus from scratch (the committed one already holds what the seeds
reached). Idempotent: nonces are drawn from a seeded generator and a seed's file name is the
SHA-1 of its content.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hivemind_client.security.aead import seal_binary, seal_json  # noqa: E402
from hivemind_client.security.encodings import ENCODINGS  # noqa: E402
from hivemind_client.wire.codec import encode_binary  # noqa: E402
from hivemind_client.wire.message import HiveMessage, Message  # noqa: E402
from tests.fuzz import targets  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus"
VECTORS = ROOT / "conformance" / "vectors"


def _vectors(name: str) -> list[dict]:
    return json.loads((VECTORS / name).read_text())["vectors"]


def _chunk(data: bytes) -> bytes:
    """The Reader.chunk() spelling of ``data`` (at most 255 * 16 bytes)."""
    if len(data) < 255:
        return bytes([len(data)]) + data
    size = min(254, (len(data) + 15) // 16)
    return bytes([255, size]) + data[: size * 16]


def seeds() -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {name: [] for name in targets.TARGETS}
    for vector in _vectors("frame.json") + _vectors("frame-invalid.json"):
        out["decode_frame"].append(bytes.fromhex(vector["frame_hex"]))
    for vector in _vectors("message-json.json"):
        out["decode_json"].append(vector["text"].encode())
    for vector in _vectors("frame.json")[:20]:
        if "payload_json" in vector:
            out["decode_json"].append(vector["payload_json"].encode())
    for vector in _vectors("text-encoding.json"):
        index = list(ENCODINGS).index(vector["encoding"])
        out["decode_text"].append(bytes([index]) + vector["text"].encode("latin-1"))

    keys = list(targets._KEYS.items())
    sample = HiveMessage("bus", Message("speak", {"utterance": "hi"})).serialize().encode()
    for cipher_index, (cipher, key) in enumerate(keys):
        out["crypto"].append(bytes([0, cipher_index, 0]) + seal_binary(sample, key, cipher=cipher))
        for encoding_index, encoding in enumerate(ENCODINGS):
            sealed = seal_json(sample, key, cipher=cipher, encoding=encoding)
            out["crypto"].append(bytes([1, cipher_index, encoding_index]) + sealed.encode())
            fields = json.loads(sealed)
            out["crypto"].append(
                bytes([2, cipher_index, encoding_index])
                + _chunk(fields["ciphertext"].encode("latin-1"))
                + _chunk(fields["nonce"].encode("latin-1"))
                + b"\x01"
                + _chunk(fields["tag"].encode("latin-1"))
            )
        out["crypto"].append(bytes([3, cipher_index, 0]) + sample)

    for vector in _vectors("password-handshake.json"):
        for field in ("client_envelope", "server_envelope"):
            if isinstance(vector.get(field), str):
                out["handshake"].append(b"\x00" + vector[field].encode())
    out["handshake"].append(b"\x01" + _chunk(b"\x01" * 8) + b"\x20\x00")
    for vector in _vectors("rsa-handshake.json"):
        out["handshake"].append(b"\x02" + vector["envelope"].encode())
    client_pem, hub_pem = targets._rsa_keys()
    out["handshake"].append(
        b"\x03" + _chunk(hub_pem.encode()) + _vectors("rsa-handshake.json")[0]["envelope"].encode()
    )
    out["handshake"].append(b'\x04{"ciphers": ["AES-GCM"], "encodings": ["JSON-HEX"]}')

    # session: fresh session, HELLO, offer, answer, then each kind of hub frame
    hello, offer, answer = b"\x04\x00", b"\x05\x00\x01\x00", b"\x06\x00\x00\x00"
    frame = encode_binary(HiveMessage("bus", Message("speak", {"utterance": "hi"})))
    out["session"] += [
        b"\x00" + hello + offer + answer + b"\x0b\x01\x00\x01",
        b"\x00" + hello + offer + answer + b"\x0b\x01\x01\x00" + b"\x08\xff",
        b"\x01\x02\x01" + _chunk(sample) + b"\x03\x01" + _chunk(frame),
        b"\x03\x00\x01" + _chunk(b"garbage") + b"\x0a\x00\x00",
        b"\x05\x02\x01" + _chunk(b'{"msg_type": "ping"}') + b"\x09\x00\x02\x03\xe8\x00",
        b"\x00" + hello + b"\x05\x00\x00" + _chunk(b'{"min_protocol_version": 3}'),
        b"\x00" + hello + offer + b"\x07\x00" + _chunk(b"00" * 24) + _chunk(b"{}"),
        b"\x00\x08\xff\x08\xff\x08\xff\x08\xff\x08\xff\x08\xff",
        b"\x07\x0c\x00" + _chunk(b'{"msg_type": "bus", "payload": {"type": "x"}}') + b"\x01",
        b"\x00"
        + hello
        + b"\x05\x00\x00"
        + _chunk(
            b'{"max_protocol_version": 3, "noise": {"patterns": ["XXpsk2"],'
            b' "suites": ["25519_ChaChaPoly_SHA256"]}}'
        )
        + b"\x07\x00"
        + _chunk(b"00")
        + _chunk(b'{"noise": {"msg": "00"}}'),
    ]
    return out


def main() -> int:
    written = 0
    rng = random.Random(0)
    with mock.patch("os.urandom", rng.randbytes):  # the AEAD nonces: same seeds every run
        all_seeds = seeds()
    for name, inputs in all_seeds.items():
        directory = CORPUS / name
        directory.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            path = directory / f"seed-{hashlib.sha1(data).hexdigest()}"
            if not path.exists():
                path.write_bytes(data)
                written += 1
    print(f"{written} new seed files under {CORPUS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
