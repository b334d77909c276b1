"""cProfile of our hot paths: where the time goes, per path and message size.

    .venv/bin/python bench/micro/profile_hot.py [--sizes 1024,1048576] [--top 8]

Paths: ``encode_binary`` / ``decode_binary`` (BUS frames), ``seal_json`` / ``open_json``
(AES-GCM, JSON-B64), ``seal_binary`` / ``open_binary``, and the client's receive path: one sealed
text frame from the hub through ``LegacyLink.incoming`` (open, parse, validate) and
the client's dispatcher job for one message (routing, the local bus, a ``speak`` handler). Prints
the functions with the most own time (``tottime``), as a share of the path's total.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

import websocket

from bench.common.sizes import (
    BINARY_METADATA,
    ENCODING,
    KEY,
    blob,
    bus_payload,
    label,
    message_text,
)
from bench.micro.bench_noise import SUITES, transports
from hivemind_client import (
    BinaryPayloadType,
    HiveMessage,
    Message,
    decode_binary,
    encode_binary,
)
from hivemind_client.core.links import LegacyLink, NoiseLink
from hivemind_client.identity import NodeIdentity
from hivemind_client.satellite.core import MessageArrived
from hivemind_client.security.aead import (
    open_binary,
    open_json,
    seal_binary,
    seal_json,
)
from hivemind_client.sync.client import HiveMessageBusClient
from hivemind_client.sync.websocket_io import _build_frame

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
    # one frame opened over and over, and by the link that sealed it: no replay window
    link = LegacyLink(KEY, CIPHER, ENCODING, binarize=False, compress=None, nonce_window=0)
    speak = HiveMessage("bus", Message("speak", {"utterance": "x" * max(0, size - 120)}, {}))
    wire = link.outgoing(speak)[0]
    identity = NodeIdentity(Path(tempfile.mkdtemp(prefix="profile-identity-")) / "_identity.json")
    client = HiveMessageBusClient(
        key="profile", password="x", host="127.0.0.1", port=1, identity=identity
    )
    client.on_mycroft("speak", lambda _message: None)

    def receive() -> None:
        received = link.incoming(wire)
        assert received is not None
        client._run_work([(MessageArrived(received), [])])  # what the dispatcher runs

    bus = HiveMessage("bus", Message("bench.flood", {"pad": "x" * max(0, size - 100)}, {}))
    binary = HiveMessage(
        "bin", blob(size), bin_type=BinaryPayloadType.RAW_AUDIO, metadata=BINARY_METADATA
    )
    noise = NoiseLink(transports(SUITES[0])[0], binarize=False, compress=None)

    def send_v1() -> None:
        for data in link.outgoing(bus):
            _build_frame(data.encode(), websocket.ABNF.OPCODE_TEXT)

    def send_v3() -> None:
        for data in noise.outgoing(binary):
            _build_frame(data, websocket.ABNF.OPCODE_BINARY)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,1048576")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        for name, function in paths(size).items():
            print(f"{name}, {label(size)}")
            print("\n".join(profile(function, args.seconds, args.top)))


if __name__ == "__main__":
    main()
