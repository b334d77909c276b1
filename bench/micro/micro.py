"""Codec and crypto per message size, ours vs the reference 0.7.0a2 vs the physical floor.

    .venv/bin/python bench/micro/micro.py [--quick]

Each case runs three ways, taking turns repeat by repeat (best of N): our library, the
reference in its own venv (reference/reference_micro.py, a long-lived worker), and the floor,
the bare primitive the case cannot avoid, with the same libraries we use:

- BUS encode/decode: the stdlib's C JSON encoder (built once, UTF-8 kept) / ``json.loads`` of the
  payload;
- BINARY encode/decode: one copy of the payload (join with a header / slice it out);
- JSON seal/open: the same chain of steps without a single check (text to UTF-8, the AEAD,
  ``pybase64``, one string for the envelope; and back), JSON-B64 as our client negotiates. At
  1 MiB the chain is dominated by page faults, not by the AEAD and base64: glibc hands large
  freed blocks back to the kernel and faults them in again on the next call (see README.md);
  the physical rows give the AEAD and base64 alone;
- binary seal/open: the AEAD alone (both ciphers: OpenSSL via ``cryptography``).

The physical rows time each primitive alone: both AEADs, zlib, base64 (stdlib and pybase64),
websocket frame build+mask (websocket-client's and ours), and one websocket round trip on loopback (websocket-client to a ``websockets``
echo server in another process).
"""

from __future__ import annotations

import argparse
import binascii
import json
import os
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

import pybase64
import websocket
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from bench.common.paths import BENCH
from bench.common.sizes import (
    BINARY_METADATA,
    CIPHERS,
    ENCODING,
    KEY,
    SIZES,
    SMALL_SIZES,
    blob,
    bus_payload,
    label,
    message_text,
)
from bench.common.table import Row, render
from bench.common.timing import Repeater, alternate
from bench.common.worker import LineWorker, oracle_python
from bench.micro.wsecho import EchoServer
from hivemind_client import (
    BinaryPayloadType,
    HiveMessage,
    Message,
    decode_binary,
    encode_binary,
)
from hivemind_client.security.aead import (
    open_binary,
    open_json,
    seal_binary,
    seal_json,
)
from hivemind_client.sync.websocket_io import _build_frame

CODEC_OPS = ("bus_encode", "bus_decode", "bin_encode", "bin_decode")
CRYPTO_OPS = ("json_seal", "json_open", "bin_seal", "bin_open")
NAMES = {
    "bus_encode": "BUS encode (message -> frame)",
    "bus_decode": "BUS decode (frame -> validated message)",
    "bin_encode": "BINARY encode",
    "bin_decode": "BINARY decode",
    "json_seal": "JSON seal (text -> envelope)",
    "json_open": "JSON open",
    "bin_seal": "binary seal",
    "bin_open": "binary open",
}


def ours_case(op: str, size: int, cipher: str) -> Callable[[], object]:
    """Our library's call for one case (the same inputs as reference_micro.case)."""
    if op.startswith("bus_"):
        raw = bus_payload(size)
        message = HiveMessage("bus", Message(raw["type"], raw["data"], raw["context"]))  # type: ignore[arg-type]
        frame = encode_binary(message, compress=False)
        if op == "bus_encode":
            return lambda: encode_binary(message, compress=False)
        return lambda: decode_binary(frame)
    if op in ("bin_encode", "bin_decode"):
        binary = HiveMessage(
            "bin", blob(size), bin_type=BinaryPayloadType.RAW_AUDIO, metadata=BINARY_METADATA
        )
        frame = encode_binary(binary, compress=False)
        if op == "bin_encode":
            return lambda: encode_binary(binary, compress=False)
        return lambda: decode_binary(frame)
    if op.startswith("json_"):
        text = message_text(size)
        envelope = seal_json(text, KEY, cipher=cipher, encoding=ENCODING)
        if op == "json_seal":
            return lambda: seal_json(text, KEY, cipher=cipher, encoding=ENCODING)
        return lambda: open_json(envelope, KEY, cipher=cipher, encoding=ENCODING)
    data = blob(size)
    sealed = seal_binary(data, KEY, cipher=cipher)
    if op == "bin_seal":
        return lambda: seal_binary(data, KEY, cipher=cipher)
    return lambda: open_binary(sealed, KEY, cipher=cipher)


def aead(cipher: str) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    """Bare encrypt/decrypt with a fixed nonce, through the libraries our crypto uses."""
    if cipher == "AES-GCM":
        engine, nonce = AESGCM(KEY), bytes(16)
        return (
            lambda data: engine.encrypt(nonce, data, None),
            lambda data: engine.decrypt(nonce, data, None),
        )
    chacha, nonce = ChaCha20Poly1305(KEY), bytes(12)
    return (
        lambda data: chacha.encrypt(nonce, data, None),
        lambda data: chacha.decrypt(nonce, data, None),
    )


_B64 = pybase64.b64encode_as_string
_HEAD, _TAG, _NONCE, _TAIL = '{"ciphertext": "', '", "tag": "', '", "nonce": "', '"}'


def json_seal_chain(encrypt: Callable[[bytes], bytes], text: str) -> str:
    """The steps a JSON seal cannot skip, bare: UTF-8, AEAD, base64, one envelope string."""
    sealed = memoryview(encrypt(text.encode()))
    nonce = bytes(12)
    return "".join(
        (_HEAD, _B64(sealed[:-16]), _TAG, _B64(sealed[-16:]), _NONCE, _B64(nonce), _TAIL)
    )


def json_open_chain(decrypt: Callable[[bytes], bytes], envelope: str) -> str:
    """The steps a JSON open cannot skip, bare: ASCII bytes, find the three fields, base64,
    ciphertext || tag, AEAD, UTF-8."""
    raw = envelope.encode("ascii")
    tag_at = raw.find(b'", "tag": "')
    nonce_at = raw.find(b'", "nonce": "', tag_at)
    view = memoryview(raw)
    ciphertext = pybase64.b64decode(view[16:tag_at])
    tag = pybase64.b64decode(view[tag_at + 11 : nonce_at])
    return decrypt(ciphertext + tag).decode()


def floor_case(op: str, size: int, cipher: str) -> Callable[[], object]:
    """The bare primitive a case cannot avoid (see the module docstring)."""
    if op.startswith("bus_"):
        payload = bus_payload(size)
        # the stdlib's C encoder, built once, as the library does
        chunks = json.encoder.c_make_encoder(  # type: ignore[misc]
            None, repr, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
        )
        text = "".join(chunks(payload, 0)).encode()

        def encode(value: object) -> str:
            return "".join(chunks(value, 0))

        if op == "bus_encode":
            return lambda: encode(payload).encode()
        return lambda: json.loads(text)
    if op in ("bin_encode", "bin_decode"):
        data, header = blob(size), bytes(40)
        frame = header + data
        if op == "bin_encode":
            return lambda: b"".join((header, data))
        return lambda: frame[40:]
    encrypt, decrypt = aead(cipher)
    if op.startswith("json_"):
        text = message_text(size)
        envelope = json_seal_chain(encrypt, text)
        if op == "json_seal":
            return lambda: json_seal_chain(encrypt, text)
        return lambda: json_open_chain(decrypt, envelope)
    data = blob(size)
    sealed = encrypt(data)
    return (lambda: encrypt(data)) if op == "bin_seal" else (lambda: decrypt(sealed))


def physical_cases(size: int, ws: websocket.WebSocket) -> dict[str, Callable[[], object]]:
    """The primitives on their own: AEAD, zlib, base64, websocket framing and round trip."""
    data = blob(size)
    text = message_text(size).encode()
    deflated = zlib.compress(text)
    cases: dict[str, Callable[[], object]] = {}
    for cipher in CIPHERS:
        encrypt, decrypt = aead(cipher)
        cases[f"{cipher} encrypt+decrypt alone"] = lambda e=encrypt, d=decrypt: d(e(data))
    cases["zlib compress (JSON text)"] = lambda: zlib.compress(text)
    cases["zlib decompress (JSON text)"] = lambda: zlib.decompress(deflated)
    b64 = binascii.b2a_base64(data, newline=False)
    cases["base64 encode+decode (stdlib binascii)"] = lambda: (
        binascii.b2a_base64(data, newline=False),
        binascii.a2b_base64(b64),
    )
    cases["base64 encode+decode (pybase64)"] = lambda: (
        pybase64.b64encode(data),
        pybase64.b64decode(b64, validate=True),
    )
    cases["websocket frame build+mask (websocket-client)"] = lambda: websocket.ABNF.create_frame(
        data, websocket.ABNF.OPCODE_BINARY
    ).format()
    cases["websocket frame build+mask (ours: C masking)"] = lambda: _build_frame(
        data, websocket.ABNF.OPCODE_BINARY
    )
    cases["websocket round trip, loopback echo"] = lambda: _ws_round_trip(ws, data)
    return cases


def _ws_round_trip(ws: websocket.WebSocket, data: bytes) -> None:
    ws.send_binary(data)
    if len(ws.recv()) != len(data):
        raise AssertionError("echo mismatch")


def run(quick: bool, log: Callable[[str], None] = print) -> list[Row]:
    """Every codec, crypto and physical row, the sides taking turns."""
    repeats, target = (3, 0.01) if quick else (7, 0.05)
    rows: list[Row] = []
    with LineWorker(
        [oracle_python("ref-0.7"), str(BENCH / "reference" / "reference_micro.py")]
    ) as reference:
        for op in CODEC_OPS + CRYPTO_OPS:
            for cipher in CIPHERS if op in CRYPTO_OPS else ("-",):
                section = "codec" if op in CODEC_OPS else f"crypto {cipher}"
                for size in SIZES:
                    request = {"op": op, "size": size, "cipher": cipher, "target": target}
                    best = alternate(
                        {
                            "ref": lambda r=request: float(reference.call(r)),
                            "ours": Repeater(ours_case(op, size, cipher), target),
                            "floor": Repeater(floor_case(op, size, cipher), target),
                        },
                        repeats,
                    )
                    goal = (
                        "ref5" if size in SMALL_SIZES else "floor2" if size == SIZES[-1] else None
                    )
                    rows.append(
                        Row(
                            section,
                            f"{NAMES[op]}, {label(size)}",
                            best["ours"],
                            best["ref"],
                            best["floor"],
                            goal=goal,
                        )
                    )
                    log(render(rows[-1:]).splitlines()[-1])
    rows += physical(repeats, target)
    return rows


def physical(repeats: int, target: float) -> list[Row]:
    """The physical rows: each primitive on its own, per size."""
    rows = []
    with EchoServer() as server:
        ws = websocket.create_connection(server.url)
        try:
            for size in SIZES:
                for name, function in physical_cases(size, ws).items():
                    seconds = alternate({"floor": Repeater(function, target)}, repeats)["floor"]
                    rows.append(Row("physical", f"{name}, {label(size)}", floor=seconds))
        finally:
            ws.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    args = parser.parse_args()
    rows = run(args.quick, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(render(rows))
    print(f"\n{os.cpu_count()} CPUs; best of {'3' if args.quick else '7'} alternating repeats")


if __name__ == "__main__":
    main()
