"""cProfile of our hot paths: where the time goes, per path and message size.

    .venv/bin/python bench/profile_hot.py [--sizes 1024,1048576] [--top 8]

Paths: ``encode_binary`` / ``decode_binary`` (BUS frames), ``seal_json`` / ``open_json``
(AES-GCM, JSON-B64), ``seal_binary`` / ``open_binary``, and the client's receive path: one sealed
text frame from the hub through ``LegacyLink.incoming`` (open, parse, validate) and
``HiveMessageBusClient._handle_message`` (routing, the local bus, a ``speak`` handler). Prints
the functions with the most own time (``tottime``), as a share of the path's total.

``--candidates`` times, instead, the replacements bench/README.md recommends against what the
library does now (same inputs, best of 7): each line is "now -> candidate (gain)".
"""

from __future__ import annotations

import argparse
import binascii
import copy
import cProfile
import json
import os
import pstats
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import websocket  # noqa: E402
from bench_noise import SUITES, transports  # noqa: E402
from sizes import (  # noqa: E402
    BINARY_METADATA,
    ENCODING,
    KEY,
    blob,
    bus_payload,
    label,
    message_text,
)
from worker import oracle_python  # noqa: E402

from hivemind_client import (  # noqa: E402
    BinaryPayloadType,
    HiveMessage,
    Message,
    decode_binary,
    encode_binary,
)
from hivemind_client.client import HiveMessageBusClient  # noqa: E402
from hivemind_client.crypto import open_binary, open_json, seal_binary, seal_json  # noqa: E402
from hivemind_client.session import LegacyLink, NoiseLink  # noqa: E402

CIPHER = "AES-GCM"


def paths(size: int) -> dict[str, Callable[[], object]]:
    """The hot paths at one message size."""
    raw = bus_payload(size)
    message = HiveMessage("bus", Message(raw["type"], raw["data"], raw["context"]))  # type: ignore[arg-type]
    frame = encode_binary(message, compress=False)
    text = message_text(size)
    envelope = seal_json(text, KEY, cipher=CIPHER, encoding=ENCODING)
    data = frame
    sealed = seal_binary(data, KEY, cipher=CIPHER)
    link = LegacyLink(KEY, CIPHER, ENCODING, binarize=False, compress=None)
    speak = HiveMessage("bus", Message("speak", {"utterance": "x" * max(0, size - 120)}, {}))
    wire = link.outgoing(speak)[0]
    client = HiveMessageBusClient(key="profile", password="x", host="127.0.0.1", port=1)
    client.on_mycroft("speak", lambda _message: None)

    def receive() -> None:
        received = link.incoming(wire)
        assert received is not None
        client._handle_message(received)

    bus = HiveMessage("bus", Message("bench.flood", {"pad": "x" * max(0, size - 100)}, {}))
    binary = HiveMessage(
        "bin", blob(size), bin_type=BinaryPayloadType.RAW_AUDIO, metadata=BINARY_METADATA
    )
    noise = NoiseLink(transports(SUITES[0])[0], binarize=False, compress=None)

    def send_v1() -> None:
        for data in link.outgoing(bus):
            websocket.ABNF.create_frame(data.encode(), websocket.ABNF.OPCODE_TEXT).format()

    def send_v3() -> None:
        for data in noise.outgoing(binary):
            websocket.ABNF.create_frame(data, websocket.ABNF.OPCODE_BINARY).format()

    return {
        "encode_binary (BUS)": lambda: encode_binary(message, compress=False),
        "decode_binary (BUS)": lambda: decode_binary(frame),
        "seal_json": lambda: seal_json(text, KEY, cipher=CIPHER, encoding=ENCODING),
        "open_json": lambda: open_json(envelope, KEY, cipher=CIPHER, encoding=ENCODING),
        "seal_binary": lambda: seal_binary(data, KEY, cipher=CIPHER),
        "open_binary": lambda: open_binary(sealed, KEY, cipher=CIPHER),
        "client receive (sealed JSON frame -> handler)": receive,
        "client send v1 (BUS -> sealed JSON -> masked websocket frame)": send_v1,
        "client send v3 (BINARY -> Noise ChaChaPoly -> masked websocket frames)": send_v3,
    }


def profile(function: Callable[[], object], seconds: float, top: int) -> list[str]:
    """Profile ``function`` for about ``seconds``; the top own-time entries as text lines."""
    function()
    calls = 0
    profiler = cProfile.Profile()
    deadline = time.perf_counter() + seconds
    profiler.enable()
    while time.perf_counter() < deadline:
        function()
        calls += 1
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1e-12
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)
    lines = [f"  {calls} calls, {total / calls * 1e6:.1f} us per call under the profiler"]
    for (filename, line, name), (_, ncalls, tottime, _, _) in ranked[:top]:
        where = f"{Path(filename).name}:{line}" if line else filename
        lines.append(f"  {tottime / total:6.1%}  {name:<40} {where}  ({ncalls // calls}/call)")
    return lines


def _best(function: Callable[[], object]) -> float:
    """Best seconds per call (7 repeats of about 20 ms)."""
    function()
    number = max(1, int(0.02 / max(timeit.timeit(function, number=1), 1e-7)))
    return min(timeit.repeat(function, number=number, repeat=7)) / number


def _compare(what: str, now: Callable[[], object], candidate: Callable[[], object]) -> str:
    before, after = _best(now), _best(candidate)
    return f"  {what:<58} {before * 1e6:9.1f} us -> {after * 1e6:9.1f} us ({before / after:.1f}x)"


def _json_tree_copy(value: object) -> object:
    """Deep copy of a JSON tree (dicts, lists, scalars) without deepcopy's memo."""
    kind = type(value)
    if kind is dict:
        return {key: _json_tree_copy(item) for key, item in value.items()}  # type: ignore[attr-defined]
    if kind is list:
        return [_json_tree_copy(item) for item in value]  # type: ignore[attr-defined]
    return value


def _frame(data: bytes, apply_mask: Callable[[bytes, bytes], bytes]) -> bytes:
    """A masked binary websocket frame (RFC 6455 5.2), the mask applied by ``apply_mask``."""
    key, size = os.urandom(4), len(data)
    if size < 126:
        header = bytes((0x82, 0x80 | size))
    elif size < 1 << 16:
        header = b"\x82\xfe" + size.to_bytes(2, "big")
    else:
        header = b"\x82\xff" + size.to_bytes(8, "big")
    return header + key + apply_mask(data, key)


def _b64_decode_last_quantum(raw: bytes) -> bytes:
    """Strict base64 decode that checks canonical form on the last 4 characters only."""
    data = binascii.a2b_base64(raw, strict_mode=True)
    tail = len(data) % 3 or 3
    if binascii.b2a_base64(data[-tail:], newline=False) != raw[-4:]:
        raise ValueError("non-canonical base64")
    return data


_PYBASE64 = """
import json, os, sys, timeit, pybase64
out = {}
for size in (1024, 1 << 20):
    data = os.urandom(size); text = pybase64.b64encode(data)
    for name, f in (("enc", lambda: pybase64.b64encode(data)),
                    ("dec", lambda: pybase64.b64decode(text, validate=True))):
        n = max(1, int(0.02 / max(timeit.timeit(f, number=1), 1e-7)))
        out[f"{name} {size}"] = min(timeit.repeat(f, number=n, repeat=7)) / n
print(json.dumps(out))
"""


def candidates() -> list[str]:
    """Each recommended change, timed against what the library does now."""
    import websocket
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from nacl import bindings as sodium

    from hivemind_client.encodings import _DECODERS

    lines = []
    chacha = ChaCha20Poly1305(KEY)
    for size in (100, 1 << 20):
        data = blob(size)
        lines.append(
            _compare(
                f"ChaCha20-Poly1305 encrypt {label(size)}: libsodium -> OpenSSL",
                lambda d=data: sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
                    d, None, bytes(12), KEY
                ),
                lambda d=data: chacha.encrypt(bytes(12), d, None),
            )
        )
    reference = json.loads(
        subprocess.run(
            [oracle_python("ref-0.7"), "-c", _PYBASE64], check=True, capture_output=True, text=True
        ).stdout
    )
    for size in (1024, 1 << 20):
        data = blob(size)
        text = binascii.b2a_base64(data, newline=False)
        for name, ours in (
            ("enc", lambda d=data: binascii.b2a_base64(d, newline=False)),
            ("dec", lambda t=text: _DECODERS["JSON-B64"](t)),
        ):
            now = _best(ours)
            theirs = reference[f"{name} {size}"]
            lines.append(
                f"  {'base64 ' + name + ' ' + label(size) + ': ours -> pybase64 (SIMD)':<58}"
                f" {now * 1e6:9.1f} us -> {theirs * 1e6:9.1f} us ({now / theirs:.1f}x)"
            )
        lines.append(
            _compare(
                f"JSON-B64 strict decode {label(size)}: re-encode all -> last 4 chars",
                lambda t=text: _DECODERS["JSON-B64"](t),
                lambda t=text: _b64_decode_last_quantum(t),
            )
        )
    aes = AESGCM(KEY)
    sealed = seal_binary(blob(1 << 20), KEY, cipher=CIPHER)
    lines.append(
        _compare(
            "open_binary 1 MiB AES-GCM: copy ciphertext+tag -> memoryview",
            lambda: open_binary(sealed, KEY, cipher=CIPHER),
            lambda: aes.decrypt(sealed[:16], memoryview(sealed)[16:], None),
        )
    )
    try:
        from websockets.speedups import apply_mask
    except ImportError:  # websockets is a dev dependency only
        apply_mask = None
    for size in (1024, 1 << 16) if apply_mask is not None else ():
        data = blob(size)
        lines.append(
            _compare(
                f"client frame build+mask {label(size)}: websocket-client -> C mask",
                lambda d=data: websocket.ABNF.create_frame(d, 2).format(),
                lambda d=data, mask=apply_mask: _frame(d, mask),
            )
        )
    context = {
        "source": "hive",
        "destination": "bench-ours::1::bench::s",
        "peer": "bench-ours::1::bench::s",
        "session": {"session_id": "s", "site_id": "kitchen", "lang": "en-US", "pipeline": []},
    }
    data = {"utterance": "x" * 200, "lang": "en-US", "meta": {"skill": "echo"}}
    lines.append(
        _compare(
            "routing._deliver copies: copy.deepcopy -> JSON-tree copy",
            lambda: (copy.deepcopy(context), copy.deepcopy(data)),
            lambda: (_json_tree_copy(context), _json_tree_copy(data)),
        )
    )
    binary = HiveMessage(
        "bin", blob(1 << 16), bin_type=BinaryPayloadType.RAW_AUDIO, metadata=BINARY_METADATA
    )
    lines.append(
        _compare(
            "encode_binary BINARY 64 KiB: compress=None -> compress=False",
            lambda: encode_binary(binary, compress=None),
            lambda: encode_binary(binary, compress=False),
        )
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,1048576")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--candidates", action="store_true", help="time the recommended changes")
    args = parser.parse_args()
    if args.candidates:
        print("\n".join(candidates()))
        return
    for size in (int(s) for s in args.sizes.split(",")):
        for name, function in paths(size).items():
            print(f"{name}, {label(size)}")
            print("\n".join(profile(function, args.seconds, args.top)))


if __name__ == "__main__":
    main()
