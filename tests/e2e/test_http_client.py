"""End to end: HiveMindHTTPClient against real hubs serving the HTTP polling plugin
(hivemind-http-protocol): 5.3 (protocol v3, Noise) and 4.0.0 (protocol v1).

What every transport shares (handshake, BUS round trips, binarize, chunked Noise messages,
wrong or missing password) runs over HTTP too in test_client_v3.py, parametrized over the
drivers; this module holds what only the HTTP transport has: polling without keepalive,
sessions the hub keeps between requests, the hub's refusals as HTTP answers.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from hivemind_client import Message
from hivemind_client.errors import ConnectionFailed
from hivemind_client.http.client import HiveMindHTTPClient
from hivemind_client.sync.driver import ReconnectPolicy

from .hubs import DEFAULT_PASSWORD, RunningHub

pytestmark = pytest.mark.e2e

FAST_RECONNECT = ReconnectPolicy(first_delay=0.2, max_delay=1.0, stable_after=0.0)


def _key() -> str:
    return "h" + uuid.uuid4().hex[:15]


def _client(hub: RunningHub, key: str | None = None, **options: object) -> HiveMindHTTPClient:
    if key is None:
        key = _key()
        hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    options.setdefault("poll_interval", 0.1)
    return HiveMindHTTPClient(
        key=key, password=DEFAULT_PASSWORD, host=hub.host, port=hub.port, **options
    )  # type: ignore[arg-type]


def _round_trip(client: HiveMindHTTPClient, text: str) -> None:
    """Utterance out, the echo's speak for *this* text back (an echo of a message delivered
    from the queue may still be on its way)."""
    expected = f"echo: {text}"
    got = threading.Event()

    def mine(message: Message) -> None:
        if message.data.get("utterance") == expected:
            got.set()

    client.on_mycroft("speak", mine)
    try:
        client.emit(Message("recognizer_loop:utterance", {"utterances": [text], "lang": "en-US"}))
        assert got.wait(10), f"no speak answer from the hub for {text!r}"
    finally:
        client.remove("speak", mine)


def _hub_log_count(hub: RunningHub, pattern: str) -> int:
    return len(re.findall(pattern, hub.hub_log.read_text(errors="replace")))


@pytest.fixture(scope="module")
def legacy_http_hub() -> Iterator[RunningHub]:
    with RunningHub("4.0", http=True) as running:
        yield running


def test_v3_over_http_and_the_hub_polled_for_what_it_starts(http_hub: RunningHub) -> None:
    with _client(http_hub) as client:
        info = client.connect(site_id="attic")
        assert (info.protocol_version, info.handshake) == (3, "noise-XXpsk2")
        assert client.url == f"http://{http_hub.host}:{http_hub.port}"
        _round_trip(client, "hello over http")
        got: list[Message] = []
        client.on_mycroft("hub.says.hello", got.append)
        http_hub.bus_emit("hub.says.hello", {"n": 7}, {"destination": [http_hub.last_peer()]})
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got and got[0].data == {"n": 7}


def test_a_quiet_session_is_not_torn_down_for_want_of_a_pong(http_hub: RunningHub) -> None:
    """No ping/pong over HTTP: with keepalive on, this silence would end the link twice over."""
    failures: list[object] = []
    with _client(http_hub, ping_interval=0.2, pong_timeout=0.2) as client:
        client.on("failed", failures.append)
        client.connect()
        time.sleep(1.5)
        assert client.connected and failures == []
        _round_trip(client, "after a quiet spell")


def test_close_ends_the_session_on_the_hub_and_a_new_one_starts_clean(
    http_hub: RunningHub,
) -> None:
    key = _key()
    http_hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    client = _client(http_hub, key)
    with client:
        client.connect()
        _round_trip(client, "first session")
    assert _hub_log_count(http_hub, rf"disconnecting client: \S*::sat-{key}::") >= 1
    with client:  # close() then connect() on the same client: a fresh HELLO and handshake
        assert client.connect().handshake == "noise-KKpsk0"
        _round_trip(client, "second session")


def test_a_session_the_hub_still_holds_for_the_key_is_replaced(http_hub: RunningHub) -> None:
    """A session left open (a crashed process): the hub would reuse it without a HELLO."""
    key = _key()
    http_hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    auth = base64.b64encode(f"stale:{key}".encode()).decode()
    answer = httpx.post(f"{http_hub.url}/connect", params={"authorization": auth}, timeout=10)
    assert answer.json() == {"status": "Connected"}
    with _client(http_hub, key) as client:
        assert client.connect(timeout=10).protocol_version == 3
        _round_trip(client, "after a stale session")


def test_an_unknown_key_is_refused_at_once_without_retries(http_hub: RunningHub) -> None:
    key = _key()
    started = time.monotonic()
    with (
        _client(http_hub, key, reconnect=FAST_RECONNECT) as client,
        pytest.raises(ConnectionFailed, match="refused the access key"),
    ):
        client.connect()
    assert time.monotonic() - started < 5
    time.sleep(1.0)  # a retry storm would show up as more refusals here
    assert _hub_log_count(http_hub, "Client provided an invalid Access key") >= 1
    refusals = _hub_log_count(http_hub, r"403 POST /connect")
    time.sleep(1.0)
    assert _hub_log_count(http_hub, r"403 POST /connect") == refusals


def test_a_hub_restart_is_a_new_session_and_the_queue_is_delivered() -> None:
    with RunningHub("5.3", http=True) as hub, _client(hub, reconnect=FAST_RECONNECT) as client:
        client.connect()
        _round_trip(client, "before restart")
        hub.stop()
        deadline = time.monotonic() + 10
        while client.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not client.connected
        since = time.time()
        client.emit(Message("recognizer_loop:utterance", {"utterances": ["queued"], "lang": "en"}))
        assert client.queued == 1
        hub.start()
        deadline = time.monotonic() + 20
        while (client.queued or not client.connected) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.connected and client.queued == 0
        hub.wait_bus_message(
            "recognizer_loop:utterance",
            since=since,
            predicate=lambda m: m["data"].get("utterances") == ["queued"],
        )
        _round_trip(client, "after restart")


def test_protocol_v1_over_http_with_hub_4_0(legacy_http_hub: RunningHub) -> None:
    with _client(legacy_http_hub) as client:
        info = client.connect()
        assert (info.protocol_version, info.handshake) == (1, "password")
        _round_trip(client, "legacy hub over http")


def test_unknown_key_with_hub_4_0_is_a_connection_failure(legacy_http_hub: RunningHub) -> None:
    """Plugin 0.0.3a1 answers an unknown key with HTTP 500 (it crashes on the missing client)."""
    with _client(legacy_http_hub, _key()) as client, pytest.raises(ConnectionFailed):
        client.connect(timeout=10)
