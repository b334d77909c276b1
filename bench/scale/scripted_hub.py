"""A scripted protocol v3 hub for the scale bench: the client-side ceiling, no real hub in the way.

    .venv/bin/python bench/scale/scripted_hub.py --port 0 --ready FILE [--binarize] [--lifetime S]

It plays the hub's half of protocol v3 as hivemind-core 5.3 does (cleartext HELLO and offer,
the Noise XXpsk2 responder with the PSK derived from the password and its node id, Noise
messages hex-encoded in HANDSHAKE payloads, then Noise transport messages), accepts any access
key, and answers every BUS ``recognizer_loop:utterance`` with a ``speak`` ("echo: <text>") at
once. It does nothing else a hub does (no database, no pins, no OVOS bus), so whatever limits a
run against it is the client's. One password for every session: its PSK is derived once at
start, so the hub spends no argon2id per session (the clients still do).

``HubSession`` is the sans-I/O half (frames in, frames out) and ``serve`` the asyncio
``websockets`` server around it. Started as a script it writes its port to ``--ready`` and
stops on stdin EOF or after ``--lifetime`` seconds, so it never outlives the bench.
Bench and test code only: not part of the library.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from hivemind_client import HiveMessage, HiveMindError, Message
from hivemind_client.errors import InvalidPayload
from hivemind_client.security.hivemind_noise import (
    PATTERN_XX,
    SUITE_AESGCM,
    SUITE_CHACHAPOLY,
    NoiseTransport,
    build_prologue,
    derive_psk,
)
from hivemind_client.security.noise import HandshakeState
from hivemind_client.wire.codec import decode_binary, decode_json, encode_binary

__all__ = ["HubRefusal", "HubSession", "HubStats", "ScriptedHubConfig", "serve"]

NODE_ID = "scripted-hub-node"
DEFAULT_PASSWORD = "Ecru-Tapir-93-Quill-Marzipan"
UTTERANCE = "recognizer_loop:utterance"


class HubRefusal(Exception):
    """The hub closes the connection: ``code`` and ``reason`` for the websocket close."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class HubStats:
    """What the hub saw, for the bench's report."""

    sessions: int = 0
    handshakes: int = 0
    answers: int = 0
    refused: int = 0
    dropped: int = 0  # messages that decrypted but did not decode (ignored, as a hub would)


@dataclass(frozen=True)
class ScriptedHubConfig:
    """Everything every session shares: the static key, the PSK, the offer."""

    psk: bytes
    static: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    binarize: bool = False
    node_id: str = NODE_ID

    @classmethod
    def for_password(cls, password: str = DEFAULT_PASSWORD, **options: Any) -> ScriptedHubConfig:
        """Derive the PSK once (argon2id, about 0.3 s)."""
        node_id = options.get("node_id", NODE_ID)
        return cls(psk=derive_psk(password, node_id), **options)


class HubSession:
    """The hub's side of one v3 connection, sans-I/O: ``greeting()``, then ``receive(frame)``."""

    def __init__(self, config: ScriptedHubConfig, peer: str, stats: HubStats | None = None) -> None:
        self.config = config
        self.stats = stats if stats is not None else HubStats()
        self.hello = {"pubkey": "SCRIPTED-HUB", "peer": peer, "node_id": config.node_id}
        self.offer: dict[str, Any] = {
            "max_protocol_version": 3,
            "min_protocol_version": 3,
            "binarize": config.binarize,
            "encodings": ["JSON-B64", "JSON-HEX"],
            "ciphers": ["AES-GCM"],
            "noise": {"patterns": [PATTERN_XX], "suites": [SUITE_CHACHAPOLY, SUITE_AESGCM]},
        }
        self._state: HandshakeState | None = None
        self.transport: NoiseTransport | None = None

    def greeting(self) -> list[str]:
        """HELLO and the v3 offer, in cleartext, as the hub sends them on connect."""
        return [
            HiveMessage("hello", self.hello).serialize(),
            HiveMessage("shake", self.offer).serialize(),
        ]

    def receive(self, data: str | bytes) -> list[str | bytes]:
        """One frame from the client; the frames to send back. Raises HubRefusal to close."""
        try:
            if self.transport is None:
                return self._handshake(data)
            if not isinstance(data, bytes):
                raise HubRefusal(1008, "non-Noise message on a protocol v3 session")
            plaintext = self.transport.decrypt(data)
            if plaintext is None:  # a chunk of a larger message
                return []
            try:
                message = (
                    decode_binary(plaintext)
                    if isinstance(plaintext, bytes)
                    else decode_json(plaintext)
                )
            except (
                InvalidPayload
            ):  # e.g. the reference's HELLO, outside our schema: not ours to judge
                self.stats.dropped += 1
                return []
            return self._answer(message)
        except HiveMindError as exc:
            self.stats.refused += 1
            raise HubRefusal(1008, f"refused: {exc.code}: {str(exc)[:80]}") from None

    def _handshake(self, data: str | bytes) -> list[str | bytes]:
        request = decode_json(data)
        payload = request.raw_payload
        noise = payload.get("noise") if isinstance(payload, dict) else None
        if request.msg_type.value != "shake" or not isinstance(noise, dict):
            raise HubRefusal(1008, "this hub requires the v3 Noise handshake")
        message = bytes.fromhex(str(noise.get("msg", "")))
        if self._state is None:
            pattern, suite = noise.get("pattern"), noise.get("suite")
            if pattern != PATTERN_XX or suite not in self.offer["noise"]["suites"]:
                raise HubRefusal(1008, f"unsupported pattern or suite {pattern!r} {suite!r}")
            name = f"Noise_{pattern}_{suite}"
            self._state = HandshakeState(
                name,
                initiator=False,
                prologue=build_prologue(self.hello, self.offer, name),
                static_private=self.config.static,
                psks=[self.config.psk],
            )
            client = json.loads(self._state.read_message(message) or b"{}")
            encodings = client.get("encodings") or ["JSON-B64"]
            answer = json.dumps({"encoding": encodings[0]}).encode()
            reply = {"noise": {"msg": self._state.write_message(answer).hex()}}
            return [HiveMessage("shake", reply).serialize()]
        self._state.read_message(message)
        if not self._state.complete:
            raise HubRefusal(1008, "the Noise handshake did not complete")
        self.transport = NoiseTransport(*self._state.split())
        self._state = None
        self.stats.handshakes += 1
        return []

    def _answer(self, message: HiveMessage) -> list[str | bytes]:
        payload = message.payload
        if message.msg_type.value != "bus" or not isinstance(payload, Message):
            return []  # the client's HELLO, pings, anything else: nothing to say
        if payload.msg_type != UTTERANCE:
            return []
        assert self.transport is not None
        utterances = payload.data.get("utterances") or [""]
        context = dict(payload.context or {})
        context["source"], context["destination"] = (
            context.get("destination"),
            context.get("source"),
        )
        speak = HiveMessage(
            "bus",
            Message("speak", {"utterance": f"echo: {utterances[0]}", "lang": "en-US"}, context),
        )
        self.stats.answers += 1
        if self.config.binarize:
            return list(self.transport.encrypt_binary(encode_binary(speak, compress=False)))
        return list(self.transport.encrypt_json(speak.serialize()))


@contextlib.asynccontextmanager
async def serve(
    config: ScriptedHubConfig, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[int, HubStats]]:
    """Run the hub on ``host:port`` while the context is open; yields (port, stats)."""
    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as ws_serve
    from websockets.exceptions import ConnectionClosed

    stats = HubStats()

    async def handler(connection: ServerConnection) -> None:
        stats.sessions += 1
        session = HubSession(config, f"scale::{stats.sessions}", stats)
        try:
            for frame in session.greeting():
                await connection.send(frame)
            async for data in connection:
                for out in session.receive(data):
                    await connection.send(out)
        except HubRefusal as refusal:
            if stats.refused <= 3:  # the first few, for whoever runs the bench
                print(f"scripted hub: {refusal.reason}", file=sys.stderr, flush=True)
            await connection.close(refusal.code, refusal.reason)
        except ConnectionClosed:
            pass

    async with ws_serve(
        handler,
        host,
        port,
        compression=None,
        ping_interval=None,
        max_size=64 * 1024 * 1024,
        backlog=4096,
    ) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        yield int(bound), stats


async def _main(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    config = await loop.run_in_executor(
        None, lambda: ScriptedHubConfig.for_password(args.password, binarize=args.binarize)
    )
    async with serve(config, "127.0.0.1", args.port) as (port, stats):
        Path(args.ready).write_text(f"{port}\n")
        stdin_closed = asyncio.Event()  # EOF on stdin: the parent is done (or gone)

        def watch_stdin() -> None:
            sys.stdin.read()
            loop.call_soon_threadsafe(stdin_closed.set)

        threading.Thread(target=watch_stdin, daemon=True).start()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stdin_closed.wait(), timeout=args.lifetime)
    print(json.dumps(stats.__dict__), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin reaches EOF or ``--lifetime`` seconds pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready", required=True, help="file to write the bound port to")
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--binarize", action="store_true")
    parser.add_argument("--lifetime", type=float, default=1800.0)
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
