"""Hardening, round 2, at the driver: what a hostile or frozen hub could still do to a satellite.

Each test here failed on the code before its fix (the closing note of the change says how that
was checked). They drive the real HiveMessageBusClient against tests/sync/misbehaving_hub.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import threading
import time
from typing import Any

import pytest

from hivemind_client import HiveMessage, Message
from hivemind_client.errors import (
    ConnectionFailed,
    HandshakeFailed,
    HiveMindError,
    PayloadTooLarge,
    UnsupportedVersion,
)

from .misbehaving_hub import HubConnection, MisbehavingHub
from .misbehaving_hub import client_for as _client
from .misbehaving_hub import speak as _speak

pytestmark = pytest.mark.usefixtures("no_thread_leak")


def test_a_frozen_hub_is_noticed_and_the_link_rebuilt(driver: str) -> None:
    """Item 7: pings went out but nothing was required back; a frozen hub stayed 'connected'."""

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        if conn.index == 0:
            time.sleep(2.5)  # blocks the hub's event loop: no pong, nothing at all
        await conn.serve()

    failures: list[HiveMindError] = []
    with (
        MisbehavingHub(script) as hub,
        _client(hub, driver=driver, ping_interval=0.3, pong_timeout=0.5) as client,
    ):
        client.on("failed", failures.append)
        client.connect(timeout=10)
        assert hub.wait_for(lambda: hub.connections >= 2 and client.connected, timeout=15)
    silent = [f for f in failures if isinstance(f, ConnectionFailed) and "ping" in str(f)]
    assert silent, failures


def test_handshake_timeout_is_a_deadline_while_bytes_trickle_in(driver: str) -> None:
    """Item 9: one byte every 0.1 s kept every socket read alive, so the handshake deadline
    never fired while a frame trickled in."""

    async def script(conn: HubConnection) -> None:
        text = HiveMessage("hello", {"node_id": "slow", "peer": "p"}).serialize().encode()
        # a well-formed frame (a strict reader refuses a bad header at once, which is not
        # what this test is about): 126 + a 16-bit length once the text is over 125 bytes
        header = (
            struct.pack("!BB", 0x81, len(text))
            if len(text) < 126
            else struct.pack("!BBH", 0x81, 126, len(text))
        )
        frame = header + text
        for byte in frame * 20:  # far more than the deadline allows
            await conn.send_raw(bytes([byte]))
            await asyncio.sleep(0.1)

    with (
        MisbehavingHub(script) as hub,
        _client(hub, driver=driver, handshake_timeout=1.0) as client,
    ):
        started = time.monotonic()
        with pytest.raises(HandshakeFailed, match="within 1 s"):
            client.connect(timeout=30)
        assert time.monotonic() - started < 5  # the deadline is 1 s; before: the 30 s timeout


def test_wait_for_response_from_a_handler_gets_its_answer() -> None:
    """Item 10: the answer waited behind the busy dispatcher, so a handler always timed out."""

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.send_sealed(_speak("ask me"))
        while True:
            message = await conn.recv()
            if message.msg_type.value == "bus" and message.payload.msg_type == "question":
                await conn.send_sealed(HiveMessage("bus", Message("question.response", {"a": 1})))

    answers: list[Any] = []
    with MisbehavingHub(script) as hub, _client(hub) as client:

        def on_speak(message: Message) -> None:
            answers.append(client.wait_for_response(Message("question"), timeout=5))

        client.on_mycroft("speak", on_speak)
        client.connect(timeout=10)
        assert hub.wait_for(lambda: len(answers) == 1, timeout=10)
    assert isinstance(answers[0], Message) and answers[0].data == {"a": 1}


def test_close_from_a_handler_with_a_full_queue_returns_at_once(driver: str) -> None:
    """Item 10: close() in a handler waited for a reader thread blocked on the full queue."""
    flood = 50

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        for n in range(flood):
            await conn.send_sealed(_speak(f"flood {n}"))
        await conn.serve()

    took: list[float] = []
    with MisbehavingHub(script) as hub:
        client = _client(hub, driver=driver, max_pending_handlers=2)
        release = threading.Event()

        def on_speak(message: Message) -> None:
            if message.data["utterance"] == "flood 0":
                release.wait(5)  # let the queue fill up behind us
                started = time.monotonic()
                client.close()
                took.append(time.monotonic() - started)

        client.on_mycroft("speak", on_speak)
        client.connect(timeout=10)
        time.sleep(0.5)
        release.set()
        assert hub.wait_for(lambda: bool(took), timeout=15)
        client.close()
    assert took[0] < 3  # the reader thread lets go at once; before: about 6 s


def test_what_waits_for_handlers_is_bounded_in_bytes() -> None:
    """Item 3: the dispatcher queue was bounded by count only (1000 messages of any size)."""
    big = 256 * 1024
    bound = 1024 * 1024

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        for n in range(40):
            await conn.send_sealed(HiveMessage("bus", Message("speak", {"pad": "x" * big, "n": n})))
        await conn.serve()

    peak: list[int] = []
    release = threading.Event()
    with (
        MisbehavingHub(script) as hub,
        _client(hub, max_pending_bytes=bound) as client,
    ):
        client.on_mycroft("speak", lambda message: release.wait(3))
        client.connect(timeout=10)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            peak.append(client._pending_bytes)
            time.sleep(0.01)
        release.set()
    # one message over the bound may be admitted when nothing else waits
    assert 0 < max(peak) <= bound + 2 * big


def test_a_flood_of_garbage_does_not_flood_the_log(
    caplog: pytest.LogCaptureFixture, driver: str
) -> None:
    """Item 13: one WARNING per garbage frame, with no rate limit."""

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        for _ in range(200):
            await conn.send_text('{"not": "sealed"}')
        await conn.send_sealed(_speak("after the garbage"))
        await conn.serve()

    heard = threading.Event()
    caplog.set_level(logging.WARNING, logger="hivemind_client")
    with MisbehavingHub(script) as hub, _client(hub, driver=driver) as client:
        client.on_mycroft("speak", lambda message: heard.set())
        client.connect(timeout=10)
        assert heard.wait(10)
    dropped = [r for r in caplog.records if "dropped a frame" in r.getMessage()]
    assert 1 <= len(dropped) <= 10


def test_a_hub_whose_v3_key_is_pinned_never_gets_the_password_envelope(driver: str) -> None:
    """Item 4, through the client: a server posing as a pinned v3 hub offers only v1."""
    envelopes: list[dict[str, Any]] = []

    async def script(conn: HubConnection) -> None:
        await conn.send_hello()
        await conn.send_offer()
        with contextlib.suppress(Exception):
            envelopes.append(await conn.read_request())
        await asyncio.sleep(1)

    with MisbehavingHub(script) as hub:
        client = _client(hub, driver=driver)
        client.noise_store.pin_hub_key(client.hub_pin_id, bytes(range(32)))
        with client, pytest.raises(HandshakeFailed, match="downgrade") as raised:
            client.connect(timeout=10)
        assert client.hub_pin_id in str(raised.value)
    assert envelopes == []


def test_min_protocol_version_refuses_a_legacy_hub(driver: str) -> None:
    async def script(conn: HubConnection) -> None:
        await conn.send_hello()
        await conn.send_offer()
        await asyncio.sleep(1)

    with (
        MisbehavingHub(script) as hub,
        _client(hub, driver=driver, min_protocol_version=3) as client,
        pytest.raises(UnsupportedVersion),
    ):
        client.connect(timeout=10)


def test_a_huge_message_before_the_handshake_is_refused_from_its_header(driver: str) -> None:
    """Item 3: before the handshake a 64 MiB cleartext message was accepted from anyone."""

    async def script(conn: HubConnection) -> None:
        await conn.stream_frame(8 * 1024 * 1024)

    with (
        MisbehavingHub(script) as hub,
        _client(hub, driver=driver) as client,
        pytest.raises(PayloadTooLarge),
    ):
        client.connect(timeout=10)
    assert hub.streamed and hub.streamed[0] < 8 * 1024 * 1024  # refused before it was all read
