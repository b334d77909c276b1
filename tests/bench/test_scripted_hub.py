"""The scale bench's scripted v3 hub (bench/scale/scripted_hub.py) holds up against real clients.

The bench labels its numbers against this hub "the client-side ceiling"; that only means
something if a real client completes the Noise handshake and a round trip with it, over a real
websocket on 127.0.0.1, and if it refuses what a v3 hub refuses.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from bench.scale.scripted_hub import (
    DEFAULT_PASSWORD,
    HubRefusal,
    HubSession,
    HubStats,
    ScriptedHubConfig,
    serve,
)
from hivemind_client import HiveMessage, Message
from hivemind_client.errors import HandshakeFailed
from tests.drivers import make_client


@functools.lru_cache(maxsize=1)
def _config() -> ScriptedHubConfig:
    """argon2id once for the module."""
    return ScriptedHubConfig.for_password(DEFAULT_PASSWORD)


class RunningScriptedHub:
    """The scripted hub's server on its own event loop thread, for one test."""

    def __init__(self, config: ScriptedHubConfig) -> None:
        self.config = config
        self.port = 0
        self.stats = HubStats()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="scripted-hub", daemon=True)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self.config) as (port, stats):
            self.port, self.stats = port, stats
            self._ready.set()
            await asyncio.wait_for(self._stop.wait(), timeout=60)  # never outlives a test

    def __enter__(self) -> RunningScriptedHub:
        self._thread.start()
        assert self._ready.wait(10), "the scripted hub did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def hub(no_thread_leak: None) -> Iterator[RunningScriptedHub]:
    with RunningScriptedHub(_config()) as running:
        yield running


def test_a_real_client_completes_the_handshake_and_a_round_trip(
    hub: RunningScriptedHub, driver: str
) -> None:
    client = make_client(
        driver, key="any-key", password=DEFAULT_PASSWORD, host="127.0.0.1", port=hub.port
    )
    try:
        info = client.connect(timeout=15)
        assert (info.protocol_version, info.handshake) == (3, "noise-XXpsk2")
        assert info.hub_node_id == hub.config.node_id
        reply = client.wait_for_response(
            Message("recognizer_loop:utterance", {"utterances": ["hello hub"]}), "speak", timeout=10
        )
    finally:
        client.close()
    assert reply is not None and reply.data["utterance"] == "echo: hello hub"
    assert (hub.stats.handshakes, hub.stats.answers, hub.stats.refused) == (1, 1, 0)


def test_a_wrong_password_fails_the_handshake(hub: RunningScriptedHub) -> None:
    client = make_client(
        "threaded",
        key="any-key",
        password="Wrong-Password-77-Kiwi",
        host="127.0.0.1",
        port=hub.port,
    )
    try:
        with pytest.raises(HandshakeFailed):
            client.connect(timeout=15)
    finally:
        client.close()
    assert hub.stats.handshakes == 0


def test_the_hub_refuses_anything_but_a_v3_noise_handshake() -> None:
    session = HubSession(_config(), "peer")
    hello, offer = session.greeting()
    assert '"max_protocol_version": 3' in offer or '"max_protocol_version":3' in offer
    legacy = HiveMessage("shake", {"binarize": False, "envelope": "00" * 16}).serialize()
    with pytest.raises(HubRefusal) as refused:
        session.receive(legacy)
    assert refused.value.code == 1008
    with pytest.raises(HubRefusal):
        session.receive(b"\x00 not a handshake")


def test_only_utterances_are_answered() -> None:
    session = HubSession(_config(), "peer")
    assert session._answer(HiveMessage("bus", Message("speak", {"utterance": "x"}))) == []
    assert session._answer(HiveMessage("hello", {"session": {}})) == []
