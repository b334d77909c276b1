"""A hub that misbehaves on purpose, for driving the real client over a real socket.

Built on the ``websockets`` package (asyncio server in one background thread, loopback only).
Each connection runs a *script*, an ``async def script(conn: HubConnection)``, so a test says
exactly what the hub does and when: speak the v1 password handshake properly (with our own
crypto and handshake primitives, as ``tests/scripted_hub.py`` does), then send garbage,
cleartext, tampered ciphertext, a zlib bomb, a frame header announcing 100 MiB, half a frame
and a TCP close, a flood of PINGs, or nothing at all::

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.send_text("not json")
        await conn.serve()                    # read and record until the client goes away

    with MisbehavingHub(script) as hub:
        client = HiveMessageBusClient(key="k", password=hub.password, host=hub.host, port=hub.port)

The hub stops itself after ``lifetime`` seconds whatever happens, and ``close()`` (or leaving
the ``with``) cancels every script, closes every connection and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from hivemind_client.errors import InvalidPayload
from hivemind_client.security.aead import open_binary, open_json, seal_binary, seal_json
from hivemind_client.security.legacy_handshake import PBKDF2_ITERATIONS, PasswordHandshake
from hivemind_client.sync.driver import ReconnectPolicy
from hivemind_client.wire.codec import decode_binary, decode_json, encode_binary
from hivemind_client.wire.message import HiveMessage, Message
from tests.drivers import make_client

__all__ = ["HOST", "PASSWORD", "HubConnection", "MisbehavingHub", "Script"]

HOST = "127.0.0.1"
PASSWORD = "misbehaving-hub-password"
HUB_HELLO = {
    "pubkey": "-----BEGIN PUBLIC KEY-----\nMISBEHAVING\n-----END PUBLIC KEY-----",
    "peer": "ua::1::sat::session",
    "node_id": "misbehaving-hub",
}

Script = Callable[["HubConnection"], Awaitable[None]]


class HubConnection:
    """One client connection, as a script sees it."""

    def __init__(self, hub: MisbehavingHub, ws: ServerConnection, index: int) -> None:
        self.hub = hub
        self.ws = ws
        self.index = index  # 0 for the first connection, 1 for the first reconnect, ...
        self.key: bytes | None = None
        self.cipher = ""
        self.encoding = ""
        self.request: dict[str, Any] = {}

    # -- the v1 password handshake ------------------------------------------------------------
    async def send_hello(self) -> None:
        await self.ws.send(HiveMessage("hello", HUB_HELLO).serialize())

    async def send_offer(self) -> None:
        offer = {
            "handshake": False,
            "min_protocol_version": 0,
            "max_protocol_version": 1,
            "binarize": self.hub.binarize,
            "preshared_key": False,
            "password": True,
            "crypto_required": True,
            "encodings": list(self.hub.encodings),
            "ciphers": list(self.hub.ciphers),
        }
        await self.ws.send(HiveMessage("shake", offer).serialize())

    async def read_request(self) -> dict[str, Any]:
        """The client's cleartext HANDSHAKE (its envelope and preferences)."""
        data = await self.ws.recv()
        request = decode_json(data).raw_payload
        assert isinstance(request, dict), request
        self.request = request
        return request

    async def answer(self) -> None:
        """Derive the key as hivemind-core does (it never checks the client's envelope)."""
        mine = PasswordHandshake(self.hub.password)
        self.encoding = next(e for e in self.request["encodings"] if e in self.hub.encodings)
        self.cipher = next(c for c in self.request["ciphers"] if c in self.hub.ciphers)
        peer_iv = bytes.fromhex(self.request["envelope"][:16])
        salt = bytes(a ^ b for a, b in zip(mine.iv, peer_iv, strict=True))
        self.key = hashlib.pbkdf2_hmac(
            "sha256", self.hub.password.encode(), salt, PBKDF2_ITERATIONS
        )
        answer = {"envelope": mine.envelope, "encoding": self.encoding, "cipher": self.cipher}
        await self.ws.send(HiveMessage("shake", answer).serialize())

    async def handshake(self) -> HiveMessage:
        """HELLO, offer, the client's request, our answer, the client's encrypted HELLO."""
        await self.send_hello()
        await self.send_offer()
        await self.read_request()
        await self.answer()
        hello = await self.recv()
        assert hello.msg_type.value == "hello", hello
        return hello

    # -- sending --------------------------------------------------------------------------------
    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send(data)

    def seal(self, message: HiveMessage, *, binary: bool = False) -> str | bytes:
        """``message`` encrypted with the session key (binary: a sealed binary frame)."""
        assert self.key is not None, "no key before the handshake"
        if binary:
            return seal_binary(encode_binary(message), self.key, cipher=self.cipher)
        return seal_json(message.serialize(), self.key, cipher=self.cipher, encoding=self.encoding)

    def seal_frame(self, frame: bytes) -> bytes:
        """Raw binary frame bytes, encrypted with the session key."""
        assert self.key is not None, "no key before the handshake"
        return seal_binary(frame, self.key, cipher=self.cipher)

    async def send_sealed(self, message: HiveMessage, *, binary: bool = False) -> None:
        await self.ws.send(self.seal(message, binary=binary))

    async def send_raw(self, data: bytes) -> None:
        """Bytes on the TCP stream, outside websocket framing."""
        self.ws.transport.write(data)
        await asyncio.sleep(0)

    async def stream_frame(self, size: int, *, chunk: int = 64 * 1024) -> int:
        """A binary frame header announcing ``size`` bytes, then zeros until the client goes
        away or ``size`` is reached. Returns the payload bytes written (with backpressure: the
        kernel and asyncio buffers hold at most a few MiB of them)."""
        transport = self.ws.transport
        if size < 126:
            header = struct.pack("!BB", 0x82, size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x82, 126, size)
        else:
            header = struct.pack("!BBQ", 0x82, 127, size)
        transport.write(header)
        written, zeros = 0, bytes(chunk)
        try:
            while written < size and not transport.is_closing():
                if transport.get_write_buffer_size() > 1024 * 1024:
                    await asyncio.sleep(0.005)
                    continue
                piece = zeros[: min(chunk, size - written)]
                transport.write(piece)
                written += len(piece)
                await asyncio.sleep(0)
        finally:
            with self.hub.lock:
                self.hub.streamed.append(written)
        return written

    def abort(self) -> None:
        """Drop the TCP connection at once (no close frame)."""
        self.ws.transport.abort()

    # -- receiving ------------------------------------------------------------------------------
    def open(self, data: str | bytes) -> HiveMessage:
        """Decrypt and decode; a message our schema refuses is kept (unvalidated) and noted in
        ``hub.invalid_from_client``, as a real hub would still act on it."""
        assert self.key is not None
        if isinstance(data, bytes):
            return decode_binary(open_binary(data, self.key, cipher=self.cipher))
        text = open_json(json.loads(data), self.key, cipher=self.cipher, encoding=self.encoding)
        try:
            return decode_json(text)
        except InvalidPayload as error:
            with self.hub.lock:
                self.hub.invalid_from_client.append((text, error))
            return HiveMessage.from_dict(json.loads(text))

    async def recv(self) -> HiveMessage:
        """The next message from the client, decrypted; also recorded in ``hub.received``."""
        message = self.open(await self.ws.recv())
        with self.hub.lock:
            self.hub.received.append(message)
        return message

    async def serve(self, seconds: float | None = None) -> None:
        """Read and record messages until the client closes (or for ``seconds``)."""

        async def read_all() -> None:
            while True:
                await self.recv()

        with contextlib.suppress(ConnectionClosed, asyncio.TimeoutError):
            await asyncio.wait_for(read_all(), seconds)  # asyncio.timeout() is 3.11+

    async def wait_closed(self) -> None:
        await self.ws.wait_closed()


class MisbehavingHub:
    """Runs ``script`` for every connection, on 127.0.0.1, in a background thread."""

    def __init__(
        self,
        script: Script,
        *,
        password: str = PASSWORD,
        binarize: bool = False,
        encodings: tuple[str, ...] = ("JSON-B64", "JSON-HEX"),
        ciphers: tuple[str, ...] = ("AES-GCM", "CHACHA20-POLY1305"),
        ssl_context: ssl.SSLContext | None = None,
        lifetime: float = 30.0,
    ) -> None:
        self.script = script
        self.password = password
        self.binarize = binarize
        self.encodings = encodings
        self.ciphers = ciphers
        self.ssl_context = ssl_context
        self.lifetime = lifetime
        self.host = HOST
        self.port = 0
        self.lock = threading.Lock()
        self.received: list[HiveMessage] = []
        self.connections = 0
        self.close_codes: list[int | None] = []  # what each client connection closed with
        self.requests: list[str] = []  # the request path of each connection
        self.script_errors: list[BaseException] = []
        self.invalid_from_client: list[tuple[str, InvalidPayload]] = []
        self.streamed: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._startup_error: BaseException | None = None

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://{self.host}:{self.port}"

    def messages(self, msg_type: str | None = None) -> list[HiveMessage]:
        with self.lock:
            return [m for m in self.received if msg_type is None or m.msg_type.value == msg_type]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.02)
        return condition()

    # -- life -----------------------------------------------------------------------------------
    def start(self) -> MisbehavingHub:
        self._thread = threading.Thread(target=self._run, name="misbehaving-hub", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the misbehaving hub did not start")
        if self._startup_error is not None:
            raise RuntimeError("the misbehaving hub did not start") from self._startup_error
        return self

    def close(self) -> None:
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                raise RuntimeError("the misbehaving hub thread did not stop")
            self._thread = None

    def __enter__(self) -> MisbehavingHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() or by the test
            self._startup_error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        async with serve(
            self._handle,
            self.host,
            0,
            compression=None,
            max_size=None,
            ping_interval=None,
            close_timeout=1,
            ssl=self.ssl_context,
        ) as server:
            self._server = server
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.lifetime)
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=5)
            server.close(close_connections=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def _handle(self, ws: ServerConnection) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        with self.lock:
            index = self.connections
            self.connections += 1
            self.requests.append(ws.request.path if ws.request else "")
        try:
            await self.script(HubConnection(self, ws, index))
        except (ConnectionClosed, asyncio.CancelledError):
            pass
        except Exception as exc:  # a broken script: the test checks script_errors
            self.script_errors.append(exc)
        finally:
            self._tasks.discard(task)
            if ws.transport is not None and not ws.transport.is_closing():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 2)
            with self.lock:
                self.close_codes.append(ws.close_code)


FAST_RECONNECT = ReconnectPolicy(first_delay=0.05, max_delay=0.2, jitter=0.0, stable_after=0.0)
"""Reconnect at once in tests: a hub here restarts in milliseconds."""


def client_for(hub: MisbehavingHub, driver: str = "threaded", **options: Any) -> Any:
    """A real client of ``driver`` aimed at ``hub``, with short timeouts (override any option)."""
    options.setdefault("reconnect", FAST_RECONNECT)
    options.setdefault("handshake_timeout", 2.0)
    options.setdefault("binarize", hub.binarize)
    return make_client(
        driver,
        key="misbehaving-key",
        password=hub.password,
        host=hub.host,
        port=hub.port,
        **options,
    )


def speak(text: str) -> HiveMessage:
    """What a hub's OVOS bus says back: a ``speak`` BUS message."""
    return HiveMessage("bus", Message("speak", {"utterance": text}))
