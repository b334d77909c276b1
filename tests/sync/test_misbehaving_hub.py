"""The real HiveMessageBusClient against a hub that misbehaves on purpose (tests/misbehaving_hub.py).

Every scenario checks what the client does (refuses, drops and logs, closes, reconnects), that
the reason reaches the application as an error code, and that closing the client leaves no
thread behind. Loopback only; the whole file runs in well under a minute.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import logging
import random
import ssl
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hivemind_client import HiveMessage, Message
from hivemind_client.core.events import ConnectionClosed
from hivemind_client.errors import (
    ConnectionFailed,
    HandshakeFailed,
    HiveMindError,
    InvalidArgument,
    InvalidJSON,
    InvalidPayload,
    NotConnected,
    PayloadTooLarge,
)
from hivemind_client.identity import MemoryNoiseStore, NodeIdentity
from hivemind_client.satellite.core import Connected, Output, SatelliteConfig, SatelliteCore
from hivemind_client.satellite.hivemap import DEFAULT_FLOOD_CACHE_SIZE, DEFAULT_MAX_NODES
from hivemind_client.security.aead import seal_json
from hivemind_client.security.intercom import seal_intercom
from hivemind_client.security.legacy_handshake import RsaHandshake
from hivemind_client.sync.client import HiveMessageBusClient
from hivemind_client.sync.driver import WebsocketDriver, build_url
from hivemind_client.wire.frame import DEFAULT_MAX_INFLATED_SIZE, encode_frame
from tests.drivers import make_client

from ..core.scripted_hub import ScriptedHub
from .misbehaving_hub import FAST_RECONNECT as FAST
from .misbehaving_hub import HubConnection, MisbehavingHub
from .misbehaving_hub import client_for as _client
from .misbehaving_hub import speak as _speak

pytestmark = pytest.mark.usefixtures("no_thread_leak")


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="hivemind_client")
    return caplog


class Recorder:
    """What the application sees: bus messages, and the connected/failed/disconnected events."""

    def __init__(self, client: HiveMessageBusClient, *bus_types: str) -> None:
        self.lock = threading.Lock()
        self.bus: list[Message] = []
        self.events: list[tuple[str, Any]] = []
        for name in ("connected", "failed", "disconnected"):
            client.on(name, lambda value, name=name: self._add(name, value))
        for bus_type in bus_types:
            client.on_mycroft(bus_type, self._bus)

    def _add(self, name: str, value: Any) -> None:
        with self.lock:
            self.events.append((name, value))

    def _bus(self, message: Message) -> None:
        with self.lock:
            self.bus.append(message)

    def utterances(self) -> list[str]:
        with self.lock:
            return [m.data.get("utterance", "") for m in self.bus]

    def named(self, name: str) -> list[Any]:
        with self.lock:
            return [value for event, value in self.events if event == name]

    def wait(self, condition: Any, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.02)
        return bool(condition())


def _transport(hub: MisbehavingHub, outputs: list[Output], **options: Any) -> WebsocketDriver:
    """A bare WebsocketDriver driving a SatelliteCore against ``hub`` (no client, no dispatcher)."""
    reconnect = options.pop("reconnect", None)
    core = SatelliteCore(
        SatelliteConfig(password=hub.password, reconnect=reconnect), rng=random.Random(0)
    )
    return WebsocketDriver(
        build_url(hub.host, hub.port, "test", "misbehaving-key"),
        core,
        outputs.extend,
        store=MemoryNoiseStore("misbehaving-key"),
        **options,
    )


def _codes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The error codes the client logged, in order ("... (code)")."""
    return [
        record.getMessage().rsplit("(", 1)[-1].rstrip(")")
        for record in caplog.records
        if record.name.startswith("hivemind_client") and record.getMessage().endswith(")")
    ]


# -- before the handshake ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("garbage", "error", "code"),
    [
        ("not json", InvalidJSON, "invalid-json"),
        (b"\x00\x01\x02", InvalidPayload, "invalid-payload"),
        ('{"msg_type": "bus", "payload": {"type": "speak"}}', InvalidPayload, "invalid-payload"),
        ('{"msg_type": "no-such-type", "payload": {}}', HiveMindError, "unknown-message-type"),
    ],
)
def test_garbage_before_the_handshake_fails_connect_with_its_code(
    garbage: str | bytes, error: type[HiveMindError], code: str, driver: str
) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.ws.send(garbage)
        await conn.wait_closed()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        started = time.monotonic()
        with pytest.raises(error) as raised:
            client.connect(timeout=10)
        assert raised.value.code == code
        assert time.monotonic() - started < 2
        assert not client.connected
    assert hub.connections == 1  # a first connection that fails is not retried
    assert hub.script_errors == []


def test_bytes_that_are_not_websocket_frames_fail_connect(driver: str) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.send_raw(b"\xff\xfe this is not a websocket frame")
        await conn.wait_closed()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.connect(timeout=10)
        assert raised.value.code == "connection-failed"
    assert hub.connections == 1


@pytest.mark.parametrize("stage", ["silent", "hello only", "no answer"])
def test_a_handshake_that_never_completes_fails_connect_at_the_deadline(
    stage: str, driver: str
) -> None:
    async def script(conn: HubConnection) -> None:
        if stage != "silent":
            await conn.send_hello()
        if stage == "no answer":
            await conn.send_offer()
            await conn.read_request()
        await asyncio.sleep(60)  # cancelled when the hub closes

    with (
        MisbehavingHub(script) as hub,
        _client(hub, driver=driver, handshake_timeout=1.0) as client,
    ):
        started = time.monotonic()
        with pytest.raises(HandshakeFailed, match="did not complete the handshake") as raised:
            client.connect(timeout=10)
        elapsed = time.monotonic() - started
        assert raised.value.code == "handshake-failed"
        assert 0.9 <= elapsed < 3
    assert hub.connections == 1


def test_a_hundred_mib_frame_before_the_handshake_fails_connect_unread(driver: str) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.stream_frame(100 * 1024 * 1024)
        await conn.wait_closed()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        with pytest.raises(PayloadTooLarge) as raised:
            client.connect(timeout=10)
        assert raised.value.code == "payload-too-large"
        assert "104857600 bytes" in str(raised.value)
    assert hub.wait_for(lambda: len(hub.close_codes) == 1 and len(hub.streamed) == 1)
    # The client sends close 1009, then closes a socket that still holds unread bytes of the
    # frame, which makes the kernel send RST: the hub may see 1006 instead.
    assert hub.close_codes[0] in (1009, 1006)
    assert hub.streamed[0] < 32 * 1024 * 1024  # only what the socket buffers took


# -- after the handshake ----------------------------------------------------------------------


def test_garbage_after_the_handshake_is_dropped_logged_and_the_link_stays_up(
    warnings: pytest.LogCaptureFixture,
    driver: str,
) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.send_text("not json")
        await conn.send_bytes(b"\x00 short binary garbage")
        await conn.send_bytes(bytes(range(256)))
        await conn.send_text('{"ciphertext": 1, "nonce": "AAAA"}')
        assert conn.key is not None
        for text in (
            '{"msg_type": "no-such-type"}',
            '{"msg_type": "bus", "payload": {"data": {}}}',
        ):
            await conn.send_text(
                seal_json(text, conn.key, cipher=conn.cipher, encoding=conn.encoding)
            )
        await conn.send_sealed(_speak("still here"))
        await conn.serve()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        seen = Recorder(client, "speak")
        client.connect(timeout=10)
        assert seen.wait(lambda: seen.utterances() == ["still here"])
        assert client.connected
        assert hub.connections == 1
    assert _codes(warnings) == [
        "invalid-json",
        "authentication-failed",
        "authentication-failed",
        "invalid-payload",
        "unknown-message-type",
        "invalid-payload",
    ]
    assert hub.script_errors == []


def test_cleartext_after_the_key_exists_never_reaches_the_bus(
    warnings: pytest.LogCaptureFixture,
    driver: str,
) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.send_text(_speak("cleartext").serialize())
        await conn.send_sealed(_speak("sealed"))
        await conn.serve()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        seen = Recorder(client, "speak")
        client.connect(timeout=10)
        assert seen.wait(lambda: "sealed" in seen.utterances())
        time.sleep(0.1)
        assert seen.utterances() == ["sealed"]
    assert _codes(warnings) == ["invalid-payload"]
    assert "cleartext message after the link was keyed" in warnings.text


@pytest.mark.parametrize("binary", [False, True])
def test_tampered_ciphertext_is_refused(
    binary: bool, warnings: pytest.LogCaptureFixture, driver: str
) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        sealed = conn.seal(_speak("tampered"), binary=binary)
        if isinstance(sealed, bytes):
            flipped = bytearray(sealed)
            flipped[len(flipped) // 2] ^= 0x01
            await conn.send_bytes(bytes(flipped))
        else:
            start = sealed.index('"ciphertext": "') + len('"ciphertext": "')
            swapped = "B" if sealed[start] != "B" else "C"
            await conn.send_text(sealed[:start] + swapped + sealed[start + 1 :])
        await conn.send_sealed(_speak("intact"), binary=binary)
        await conn.serve()

    with MisbehavingHub(script, binarize=binary) as hub, _client(hub, driver=driver) as client:
        seen = Recorder(client, "speak")
        client.connect(timeout=10)
        assert seen.wait(lambda: "intact" in seen.utterances())
        assert seen.utterances() == ["intact"]
    assert _codes(warnings) == ["authentication-failed"]


def test_a_zlib_bomb_is_refused_at_the_inflation_limit(
    warnings: pytest.LogCaptureFixture,
    driver: str,
) -> None:
    bomb_payload = (
        b'{"type": "speak", "data": {"utterance": "'
        + b"A" * (DEFAULT_MAX_INFLATED_SIZE + 1024)
        + b'"}, "context": {}}'
    )
    bomb = encode_frame("bus", b"{}", bomb_payload, compressed=True)
    assert len(bomb) < 64 * 1024  # about a thousand to one

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.send_bytes(conn.seal_frame(bomb))
        await conn.send_sealed(_speak("after the bomb"), binary=True)
        await conn.serve()

    with MisbehavingHub(script, binarize=True) as hub, _client(hub, driver=driver) as client:
        seen = Recorder(client, "speak")
        client.connect(timeout=10)
        assert seen.wait(lambda: "after the bomb" in seen.utterances())
        assert seen.utterances() == ["after the bomb"]
        assert hub.connections == 1
    assert _codes(warnings) == ["payload-too-large"]


def test_a_hundred_mib_frame_is_refused_before_it_is_read_and_the_client_reconnects(
    warnings: pytest.LogCaptureFixture,
    driver: str,
) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        if conn.index == 0:
            await conn.stream_frame(100 * 1024 * 1024)
            await conn.wait_closed()
            return
        await conn.send_sealed(_speak("after the big frame"))
        await conn.serve()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        seen = Recorder(client, "speak")
        client.connect(timeout=10)
        assert seen.wait(lambda: "after the big frame" in seen.utterances())
        failed = seen.named("failed")
        assert [error.code for error in failed] == ["payload-too-large"]
        closed = seen.named("disconnected")
        assert closed and isinstance(closed[0], ConnectionClosed) and closed[0].code == 1009
        assert hub.wait_for(lambda: len(hub.streamed) == 1)  # the hub saw the client go
    assert hub.connections == 2
    assert hub.close_codes[0] in (1009, 1006)  # 1006: see the test before
    assert hub.streamed[0] < 32 * 1024 * 1024
    assert "payload-too-large" in _codes(warnings)


def test_the_hubs_pings_are_answered(driver: str) -> None:
    latencies: list[float] = []

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        for _ in range(3):
            pong = await conn.ws.ping(b"are you there")
            latencies.append(await asyncio.wait_for(pong, 2))
        await conn.send_sealed(_speak("pinged"))
        await conn.serve()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        seen = Recorder(client, "speak")
        client.connect(timeout=10)
        assert seen.wait(lambda: seen.utterances() == ["pinged"])
    assert len(latencies) == 3
    assert hub.script_errors == []


def test_half_a_frame_then_a_tcp_close_reconnects_and_delivers_nothing_partial(driver: str) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        if conn.index == 0:
            payload = conn.seal(_speak("half")).encode()  # type: ignore[union-attr]
            header = bytes([0x81, 126]) + len(payload).to_bytes(2, "big")
            await conn.send_raw(header + payload[: len(payload) // 2])
            await asyncio.sleep(0.1)
            conn.abort()
            return
        await conn.send_sealed(_speak("whole"))
        await conn.serve()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        seen = Recorder(client, "speak")
        client.connect(timeout=10)
        assert seen.wait(lambda: "whole" in seen.utterances())
        assert seen.utterances() == ["whole"]
        assert len(seen.named("disconnected")) == 1
        assert seen.named("failed") == []
    assert hub.connections == 2


def test_a_stalled_handshake_after_a_reconnect_is_retried(driver: str) -> None:
    async def script(conn: HubConnection) -> None:
        if conn.index == 1:  # the hub came back but never finishes the handshake
            await conn.send_hello()
            await conn.send_offer()
            await asyncio.sleep(60)
            return
        await conn.handshake()
        if conn.index == 0:
            await conn.ws.close()
            return
        await conn.send_sealed(_speak("third time"))
        await conn.serve()

    with (
        MisbehavingHub(script) as hub,
        _client(hub, driver=driver, handshake_timeout=0.5) as client,
    ):
        seen = Recorder(client, "speak")
        client.connect(timeout=10)
        assert seen.wait(lambda: "third time" in seen.utterances())
        assert [error.code for error in seen.named("failed")] == ["handshake-failed"]
    assert hub.connections == 3


def test_a_ping_flood_is_answered_once_per_flood_and_the_caches_stay_bounded(driver: str) -> None:
    floods = DEFAULT_FLOOD_CACHE_SIZE + 400  # more than the flood cache and the node map hold

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        for n in range(floods):
            ping = HiveMessage(
                "ping",
                {
                    "flood_id": f"flood-{n}",
                    "peer": f"peer-{n}",
                    "site_id": "elsewhere",
                    "timestamp": 1.0,
                    "public_key": None,
                    "lang": "en-US",
                },
            )
            sealed = conn.seal(HiveMessage("propagate", ping))
            await conn.send_text(sealed)  # each flood id twice: answered once
            await conn.send_text(sealed)
        await conn.serve()

    with MisbehavingHub(script, lifetime=60) as hub, _client(hub, driver=driver) as client:
        client.connect(timeout=10)
        assert hub.wait_for(lambda: len(hub.messages("propagate")) >= floods, timeout=40)
        time.sleep(0.3)  # room for a (wrong) second answer to arrive
        answers = [m.payload.payload["flood_id"] for m in hub.messages("propagate")]  # type: ignore[union-attr]
        assert len(answers) == floods
        assert set(answers) == {f"flood-{n}" for n in range(floods)}
        router = client.router
        assert router is not None
        assert len(router.flood_cache) <= router.flood_cache.max_size
        assert client.hive_map.node_count <= DEFAULT_MAX_NODES
        assert client.connected


def test_a_hub_that_stops_reading_for_a_while_loses_nothing(driver: str) -> None:
    count, size = 120, 256 * 1024  # 30 MiB: far more than the socket buffers hold

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await asyncio.sleep(2.0)  # not reading: the client's writes block, then resume
        await conn.serve()

    with MisbehavingHub(script, binarize=True) as hub, _client(hub, driver=driver) as client:
        client.connect(timeout=10)
        started = time.monotonic()
        for n in range(count):
            client.emit(HiveMessage("bin", n.to_bytes(4, "big") * (size // 4), bin_type=3))
        assert time.monotonic() - started >= 1.0  # the writes did wait for the hub
        assert hub.wait_for(lambda: len(hub.messages("bin")) == count, timeout=30)
        received = [int.from_bytes(m.payload[:4], "big") for m in hub.messages("bin")]  # type: ignore[index]
        assert received == list(range(count))
        assert client.connected and client.queued == 0
    assert hub.connections == 1


def test_a_hub_that_never_reads_makes_send_give_up_and_the_link_is_rebuilt() -> None:
    """Transport level: a frame that cannot be written within send_timeout ends the link
    (half a frame cannot be taken back), send raises NotConnected (the client queues it)."""

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        if conn.index == 0:
            await asyncio.sleep(60)  # never reads again
        await conn.serve()

    outputs: list[Output] = []
    with MisbehavingHub(script, binarize=True) as hub:
        transport = _transport(hub, outputs, reconnect=FAST, send_timeout=0.5)
        transport.start()
        try:
            assert hub.wait_for(lambda: transport.ready)
            blob = HiveMessage("bin", bytes(1024 * 1024), bin_type=3)
            with pytest.raises(NotConnected, match="broke while sending"):
                for _ in range(200):
                    transport.send(blob)
            assert hub.wait_for(lambda: hub.connections == 2 and transport.ready)
            transport.send(HiveMessage("bin", b"after", bin_type=3))
            assert hub.wait_for(lambda: any(m.payload == b"after" for m in hub.messages("bin")))
        finally:
            transport.close()
    assert sum(isinstance(output, Connected) for output in outputs) == 2


# -- regressions: bugs found here in session.py and client.py, fixed ------------------------


def test_the_clients_own_messages_satisfy_our_schema(driver: str) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.serve()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        client.connect(timeout=10)
        client.emit(Message("recognizer_loop:utterance", {"utterances": ["hi"]}))
        assert hub.wait_for(lambda: len(hub.messages("bus")) == 1)
    assert [text for text, _ in hub.invalid_from_client] == []


class _CoreAsSession:
    """Lets the scripted v1 hub of tests/core talk to a SatelliteCore as if it were a session."""

    def __init__(self, core: SatelliteCore) -> None:
        self.core = core

    def receive_message(self, data: str | bytes, now: float) -> None:
        self.core.receive_message(data, now, now)

    def messages_to_send(self) -> list[str | bytes]:
        return self.core.data_to_send()


class _BlockingTransport(WebsocketDriver):
    """A driver on no socket whose first write blocks until released, like a slow one."""

    def __init__(self, core: SatelliteCore, hub: ScriptedHub) -> None:
        super().__init__("ws://127.0.0.1:1/", core, lambda outputs: None, store=MemoryNoiseStore())
        self._ws = object()  # type: ignore[assignment]
        self.hub = hub
        self.first_write = threading.Event()
        self.release = threading.Event()
        self._writes = 0

    def _write_all(self, ws: Any, data: list[str | bytes]) -> None:
        self._writes += 1
        if self._writes == 1:
            self.first_write.set()
            self.release.wait(5)
        for item in data:
            self.hub.take(item)


def test_two_flushes_of_the_reconnect_queue_neither_duplicate_nor_lose() -> None:
    hub = ScriptedHub()
    core = SatelliteCore(SatelliteConfig(password=hub.password), rng=random.Random(0))
    core.connection_opened(0.0)
    hub.greet(_CoreAsSession(core))  # type: ignore[arg-type]
    hub.answer(_CoreAsSession(core))  # type: ignore[arg-type]
    assert core.ready and hub.received[0].msg_type.value == "hello"
    for n in range(3):  # what waited for the link while it was down
        core.send_failed(HiveMessage("bus", Message(f"queued-{n}")))
    transport = _BlockingTransport(core, hub)
    errors: list[BaseException] = []

    def reconnect_flush() -> None:  # what the reader thread runs once the handshake completed
        try:
            with transport.lock:
                transport._write_pending()
        except BaseException as exc:
            errors.append(exc)

    flusher = threading.Thread(target=reconnect_flush)
    flusher.start()
    assert transport.first_write.wait(5)
    emitter = threading.Thread(target=transport.send, args=(HiveMessage("bus", Message("live")),))
    emitter.start()
    time.sleep(0.2)
    transport.release.set()
    flusher.join(5)
    emitter.join(5)
    assert errors == []
    sent = [message.payload.msg_type for message in hub.received[1:]]
    assert sent == ["queued-0", "queued-1", "queued-2", "live"]


def test_a_message_sent_while_others_wait_goes_behind_them() -> None:
    """The core never lets a new message jump the reconnect queue."""
    hub = ScriptedHub()
    core = SatelliteCore(SatelliteConfig(password=hub.password), rng=random.Random(0))
    core.connection_opened(0.0)
    hub.greet(_CoreAsSession(core))  # type: ignore[arg-type]
    hub.answer(_CoreAsSession(core))  # type: ignore[arg-type]
    core.send_failed(HiveMessage("bus", Message("first")))
    assert core.send(HiveMessage("bus", Message("second"))) == []  # queued behind "first"
    order = []
    while (item := core.take_queued()) is not None:
        order.append(item[0].payload.msg_type)
        for data in item[1]:
            hub.take(data)
    assert order == ["first", "second"] and core.queued == 0


def test_a_flood_to_a_slow_handler_does_not_queue_without_bound() -> None:
    flood = 3000
    sent = threading.Event()

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        for n in range(flood):
            await conn.send_sealed(_speak(f"flood {n}"))
        sent.set()
        await conn.serve()

    release = threading.Event()
    with MisbehavingHub(script) as hub, _client(hub) as client:
        client.on_mycroft("speak", lambda message: release.wait(10))
        client.connect(timeout=10)
        try:
            assert sent.wait(20)
            time.sleep(0.5)  # let the reader thread take in whatever it can
            backlog = client._dispatch.qsize()
        finally:
            release.set()
        assert backlog <= 1024


# -- secure defaults ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_hub_context(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A self-signed certificate for 127.0.0.1 (server context, SHA-256 of the DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    pin = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return context, pin


async def _greet_and_serve(conn: HubConnection) -> None:
    await conn.handshake()
    await conn.send_sealed(_speak("over tls"))
    await conn.serve()


def _tls_client(hub: MisbehavingHub, driver: str = "threaded", **options: Any) -> Any:
    return make_client(
        driver,
        key="tls-key",
        password=hub.password,
        host="wss://127.0.0.1",
        port=hub.port,
        reconnect=FAST,
        **options,
    )


def test_tls_certificates_are_verified_by_default(
    tls_hub_context: tuple[ssl.SSLContext, str],
    driver: str,
) -> None:
    context, _ = tls_hub_context
    with (
        MisbehavingHub(_greet_and_serve, ssl_context=context) as hub,
        _tls_client(hub, driver=driver) as client,
    ):
        with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED") as raised:
            client.connect(timeout=10)
        assert raised.value.code == "connection-failed"
    assert hub.connections == 0  # refused in the TLS handshake, before any websocket


@pytest.mark.parametrize("option", ["self_signed", "pin"])
def test_self_signed_or_a_matching_pin_connects(
    tls_hub_context: tuple[ssl.SSLContext, str], option: str, driver: str
) -> None:
    context, pin = tls_hub_context
    options = {"self_signed": True} if option == "self_signed" else {"certificate_sha256": pin}
    with (
        MisbehavingHub(_greet_and_serve, ssl_context=context) as hub,
        _tls_client(hub, driver=driver, **options) as client,
    ):
        seen = Recorder(client, "speak")
        client.connect(timeout=10)
        assert seen.wait(lambda: seen.utterances() == ["over tls"])


def test_a_wrong_pin_is_refused(tls_hub_context: tuple[ssl.SSLContext, str], driver: str) -> None:
    context, pin = tls_hub_context
    wrong = ("0" if pin[0] != "0" else "1") + pin[1:]
    with (
        MisbehavingHub(_greet_and_serve, ssl_context=context) as hub,
        _tls_client(hub, driver=driver, certificate_sha256=wrong) as client,
    ):
        with pytest.raises(ConnectionFailed, match="does not match the pin") as raised:
            client.connect(timeout=10)
        assert pin in str(raised.value)  # says what it saw, so the user can check
    assert hub.connections == 0  # checked before the upgrade, which carries the access key


def test_a_pin_on_a_plain_ws_url_is_refused(driver: str) -> None:
    with (
        MisbehavingHub(_greet_and_serve) as hub,
        _client(hub, driver=driver, certificate_sha256="ab" * 32) as client,
        pytest.raises(ConnectionFailed, match="needs a wss:// connection"),
    ):
        client.connect(timeout=10)


def test_no_secret_is_logged_or_raised(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, driver: str
) -> None:
    """DEBUG logs of a whole life (connect, traffic, dropped frames, reconnect, a wrong
    password) and every error raised hold no password, access key, link key or private key."""
    keys: list[bytes] = []

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        assert conn.key is not None
        keys.append(conn.key)
        await conn.send_sealed(_speak("hello"))
        await conn.send_text("garbage")
        if conn.index == 0:
            await conn.ws.close()
            return
        await conn.serve()

    caplog.set_level(logging.DEBUG)
    identity = NodeIdentity(tmp_path / "identity" / "_identity.json")
    private_pem = identity.ensure_keys()
    identity.save()
    errors: list[str] = []
    with MisbehavingHub(script) as hub:
        with _client(hub, driver=driver, identity=identity) as client:
            seen = Recorder(client, "speak")
            client.connect(timeout=10)
            client.emit(Message("recognizer_loop:utterance", {"utterances": ["hi"]}))
            assert seen.wait(lambda: len(seen.utterances()) == 2)
        wrong = make_client(
            driver,
            key="misbehaving-key",
            password="not-the-password",
            host=hub.host,
            port=hub.port,
        )
        with wrong, pytest.raises(HandshakeFailed) as raised:
            wrong.connect(timeout=10)
        errors.append(str(raised.value))
    token = base64.b64encode(f"{client.useragent}:misbehaving-key".encode()).decode()
    secrets = [hub.password, "not-the-password", "misbehaving-key", token]
    for key in keys:
        secrets += [key.hex(), base64.b64encode(key).decode(), key[:16].hex()]
    body = "".join(line for line in private_pem.splitlines() if "PRIVATE KEY" not in line)
    secrets += [body[:64], body[-64:]]
    ours = [r for r in caplog.records if not r.name.startswith(("websockets", "asyncio"))]
    driver_log = {
        "threaded": "hivemind_client.sync.driver",
        "asyncio": "hivemind_client.aio.driver",
    }
    assert logging.getLogger(driver_log[driver]).isEnabledFor(logging.DEBUG)
    assert any(r.name == driver_log[driver] for r in ours)  # "reconnecting in ..."
    if driver == "asyncio":  # websockets logs the upgrade request through our logger, redacted
        assert any(r.name == "hivemind_client.aio.driver.websocket" for r in ours)
    text = "\n".join(
        [r.getMessage() + (str(r.exc_info[1]) if r.exc_info else "") for r in ours] + errors
    )
    for secret in secrets:
        assert secret not in text
    # and the files the client keeps (identity, RSA key, Noise key, PSK cache) are private
    directory = identity.path.parent
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


# -- trust: what other nodes send through the hub ------------------------------------------------


@pytest.fixture(scope="module")
def rsa_keys() -> dict[str, RsaHandshake]:
    """Three RSA identities: us, a friend we trust, a stranger."""
    return {name: RsaHandshake() for name in ("us", "friend", "stranger")}


def test_propagate_and_intercom_from_untrusted_peers_never_reach_the_bus(
    tmp_path: Path, rsa_keys: dict[str, RsaHandshake], driver: str
) -> None:
    us, friend, stranger = rsa_keys["us"], rsa_keys["friend"], rsa_keys["stranger"]
    key_file = tmp_path / "us.pem"
    key_file.write_text(us.private_pem)
    identity = NodeIdentity(tmp_path / "_identity.json")
    identity.private_key = str(key_file)
    identity.trust(friend.public_pem, "friend")
    identity.site_id = "kitchen"

    def bus(text: str) -> HiveMessage:
        return _speak(text)

    def intercom(text: str, signer: RsaHandshake, *, tamper: bool = False) -> HiveMessage:
        envelope = seal_intercom(
            bus(text).serialize(), us.public_pem, sender_private_pem=signer.private_pem
        )
        if tamper:
            envelope["ciphertext"] = seal_intercom("x", us.public_pem)["ciphertext"]
        return HiveMessage("propagate", HiveMessage("intercom", envelope))

    def propagate(text: str, origin: str) -> HiveMessage:
        return HiveMessage(
            "propagate",
            bus(text),
            target_site_id="kitchen",
            route=[{"source": origin, "targets": ["hub"]}],
        )

    cases = [
        intercom("intercom from a stranger", stranger),
        intercom("tampered intercom from the friend", friend, tamper=True),
        propagate("propagate from a stranger's key", stranger.public_pem),
        propagate("propagate from an unknown peer", "ua::7::someone::session"),
        intercom("intercom from the friend", friend),  # the controls, last
        propagate("propagate from the friend's key", friend.public_pem),
    ]

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        for message in cases:
            await conn.send_sealed(message)
        await conn.serve()

    verified: list[Any] = []
    with MisbehavingHub(script) as hub, _client(hub, driver=driver, identity=identity) as client:
        seen = Recorder(client, "speak")
        client.on_mycroft(
            "speak", lambda m: verified.append(m.context.get("hivemind_verified_source_peer"))
        )
        client.connect(site_id="kitchen", timeout=10)
        assert seen.wait(lambda: len(seen.utterances()) == 2)
        time.sleep(0.2)
        assert seen.utterances() == ["intercom from the friend", "propagate from the friend's key"]
    assert verified[0] is not None and "BEGIN PUBLIC KEY" in verified[0]  # the signer, verified
    assert verified[1] is None


def test_close_does_not_wait_for_a_write_stuck_on_a_hub_that_never_reads() -> None:
    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await asyncio.sleep(60)  # never reads again

    outcome: list[BaseException | None] = []
    with MisbehavingHub(script, binarize=True) as hub:
        transport = _transport(hub, [], send_timeout=60)
        transport.start()
        assert hub.wait_for(lambda: transport.ready)

        def writer() -> None:
            try:
                for _ in range(200):
                    transport.send(HiveMessage("bin", bytes(1024 * 1024), bin_type=3))
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(1.0)  # the writer is now blocked on a full socket
        assert not outcome
        started = time.monotonic()
        transport.close()
        thread.join(5)
        assert time.monotonic() - started < 3
    assert len(outcome) == 1 and isinstance(outcome[0], NotConnected)


def test_a_client_reused_after_close_delivers_and_a_second_connect_still_refuses(
    driver: str,
) -> None:
    """close() left a stop marker that the next dispatcher obeyed: handlers never ran again."""

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.send_sealed(_speak(f"hello {conn.index}"))
        await conn.serve()

    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        heard: list[str] = []
        client.on_mycroft("speak", lambda message: heard.append(message.data["utterance"]))
        client.connect(timeout=10)
        assert hub.wait_for(lambda: heard == ["hello 0"])
        client.close()
        client.connect(timeout=10)
        assert hub.wait_for(lambda: heard == ["hello 0", "hello 1"])
        with pytest.raises(InvalidArgument, match="already connected"):
            client.connect(timeout=10)
