"""End to end: HiveMessageBusClient against a real hivemind-core 5.3 hub (protocol v3, Noise),
and the same class against hivemind-core 4.0.0 (protocol v1) in the same module.

hivemind-core 5.3 pins a client's Noise static key per access key (trust on first use), so
every client identity here gets a fresh access key.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hivemind_client import HiveMessage, Message
from hivemind_client.api.threaded import ThreadedClient
from hivemind_client.errors import HandshakeFailed
from hivemind_client.http.client import HiveMindHTTPClient
from hivemind_client.identity import NodeIdentity
from hivemind_client.sync.client import HiveMessageBusClient
from hivemind_client.sync.driver import ReconnectPolicy
from tests.drivers import make_client

from .hubs import DEFAULT_PASSWORD, RunningHub

pytestmark = pytest.mark.e2e

FAST_RECONNECT = ReconnectPolicy(first_delay=0.2, max_delay=1.0, stable_after=0.0)


def _key() -> str:
    return "k" + uuid.uuid4().hex[:15]


@pytest.fixture(scope="module")
def hub() -> Iterator[RunningHub]:
    with RunningHub("5.3") as running:
        yield running


@pytest.fixture(scope="module")
def binarize_hub() -> Iterator[RunningHub]:
    with RunningHub("5.3", binarize=True) as running:
        yield running


@dataclass(frozen=True)
class Via:
    """A driver and its hubs: ``via.hub(binarize=False)`` starts the hub on first use."""

    driver: str
    hub: Callable[..., RunningHub]


#: The driver-independent tests run with every driver: the threaded and asyncio websocket
#: clients against the websocket hubs above, the HTTP client against the same hub version
#: serving the HTTP polling plugin (tests/e2e/conftest.py).
@pytest.fixture(params=["threaded", "asyncio", "http"])
def via(request: pytest.FixtureRequest) -> Via:
    names = (
        ("http_hub", "http_binarize_hub") if request.param == "http" else ("hub", "binarize_hub")
    )
    return Via(
        request.param,
        lambda binarize=False: request.getfixturevalue(names[bool(binarize)]),
    )


def _client(
    hub: RunningHub,
    *,
    driver: str = "threaded",
    key: str | None = None,
    password: str | None = DEFAULT_PASSWORD,
    **options: object,
) -> Any:
    """The client class for the hub's transport: HiveMindHTTPClient for an HTTP hub."""
    if key is None:
        key = _key()
        hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    if hub.http:
        options.setdefault("poll_interval", 0.1)
        return HiveMindHTTPClient(
            key=key, password=password, host=hub.host, port=hub.port, **options
        )  # type: ignore[arg-type]
    return make_client(driver, key=key, password=password, host=hub.host, port=hub.port, **options)


def _round_trip(client: ThreadedClient, text: str, timeout: float = 10) -> Message:
    answer = client.wait_for_response(
        Message("recognizer_loop:utterance", {"utterances": [text], "lang": "en-US"}),
        "speak",
        timeout=timeout,
    )
    assert isinstance(answer, Message), "no speak answer from the hub"
    assert answer.data["utterance"] == f"echo: {text}"
    return answer


def _connections(hub: RunningHub, key: str) -> int:
    """How many websocket connections the hub saw for the client named sat-<key>."""
    log = hub.hub_log.read_text(errors="replace")
    return len(re.findall(rf"new client: \S*::sat-{key}::", log))


def test_bus_both_ways_over_protocol_v3(via: Via) -> None:
    hub = via.hub()
    with _client(hub, driver=via.driver) as client:
        info = client.connect(site_id="kitchen")
        assert (info.protocol_version, info.handshake, info.cipher) == (
            3,
            "noise-XXpsk2",
            "25519_ChaChaPoly_SHA256",
        )
        assert client.protocol_version == 3
        assert info.hub_node_id and info.hub_node_id.startswith("-----BEGIN PUBLIC KEY-----")
        _round_trip(client, "hello over noise")
        # and a message the hub side starts, addressed to this satellite's peer id
        got = threading.Event()
        client.on_mycroft("hub.says.hello", lambda m: got.set())
        hub.bus_emit("hub.says.hello", {"n": 1}, {"destination": [hub.last_peer()]})
        assert got.wait(10)


@pytest.mark.parametrize(
    ("hub_binarize", "client_binarize"), [(True, True), (True, False), (False, True)]
)
def test_binarize_on_and_off(via: Via, hub_binarize: bool, client_binarize: bool) -> None:
    running = via.hub(hub_binarize)
    with _client(running, driver=via.driver, binarize=client_binarize) as client:
        info = client.connect()
        assert info.protocol_version == 3
        assert info.binarize is (hub_binarize and client_binarize)
        _round_trip(client, f"binarize hub={hub_binarize} client={client_binarize}")
        client.emit(HiveMessage("bin", bytes(range(256)) * 16, bin_type=1))
        _round_trip(client, "still up after a BINARY message")


@pytest.mark.parametrize("binarize", [False, True])
def test_a_payload_larger_than_one_noise_message(via: Via, binarize: bool) -> None:
    running = via.hub(binarize)
    # incompressible text: a binary frame would otherwise shrink below one Noise message
    utterance = uuid.uuid4().hex * (200_000 // 32)
    with _client(running, driver=via.driver, binarize=binarize, compress=False) as client:
        client.connect()
        since = time.time()
        answer = _round_trip(client, utterance, timeout=20)  # chunked both ways
        assert len(answer.data["utterance"]) == len("echo: ") + 200_000
        seen = running.wait_bus_message(
            "recognizer_loop:utterance",
            since=since,
            predicate=lambda m: m["data"].get("utterances") == [utterance],
        )
        assert len(seen["data"]["utterances"][0]) == 200_000
        _round_trip(client, "small again")


def test_wrong_password_is_a_clear_error_within_5_seconds(via: Via) -> None:
    hub = via.hub()
    key = _key()
    hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    client = _client(
        hub,
        driver=via.driver,
        key=key,
        password="Wrong-Password-77-Zebra",
        reconnect=FAST_RECONNECT,
    )
    started = time.monotonic()
    with client, pytest.raises(HandshakeFailed, match="wrong password"):
        client.connect()
    took = time.monotonic() - started
    print(f"\nwrong password reported after {took * 1000:.0f} ms")
    assert took < 5
    time.sleep(1.5)  # a retry storm would show up as more connections here
    assert _connections(hub, key) == 1


def test_no_password_is_a_clear_error(via: Via) -> None:
    hub = via.hub()
    with (
        _client(hub, driver=via.driver, password=None) as client,
        pytest.raises(HandshakeFailed, match="protocol v3"),
    ):
        client.connect(timeout=5)


def test_hub_restart_reconnects_with_kkpsk0_and_delivers_queued_messages(driver: str) -> None:
    with RunningHub("5.3") as hub, _client(hub, driver=driver, reconnect=FAST_RECONNECT) as client:
        info = client.connect()
        assert info.handshake == "noise-XXpsk2"
        _round_trip(client, "before restart")
        echoes: list[str] = []
        client.on_mycroft("speak", lambda m: echoes.append(m.data["utterance"]))
        hub.stop()
        deadline = time.monotonic() + 10
        while client.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not client.connected
        since = time.time()
        for n in range(3):
            client.emit(
                Message(
                    "recognizer_loop:utterance", {"utterances": [f"queued {n}"], "lang": "en-US"}
                )
            )
        assert client.queued == 3
        hub.start()
        deadline = time.monotonic() + 20
        while (client.queued or not client.connected) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.connected and client.queued == 0
        # both sides pinned each other at the first connection: the reconnect runs KKpsk0
        assert client.info is not None and client.info.handshake == "noise-KKpsk0"
        for n in range(3):
            hub.wait_bus_message(
                "recognizer_loop:utterance",
                since=since,
                predicate=lambda m, n=n: m["data"].get("utterances") == [f"queued {n}"],
            )
        deadline = time.monotonic() + 10
        while len(echoes) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(echoes) == [f"echo: queued {n}" for n in range(3)]
        _round_trip(client, "after restart")


def _identity(tmp_path: Path, hub: RunningHub, name: str) -> NodeIdentity:
    identity = NodeIdentity(tmp_path / name / "_identity.json")
    identity.access_key = _key()
    identity.password = DEFAULT_PASSWORD
    identity.default_master = hub.host
    identity.default_port = hub.port
    identity.save()
    hub.add_client(f"sat-{identity.access_key}", str(identity.access_key), DEFAULT_PASSWORD)
    return identity


def test_identity_pins_the_hub_caches_the_psk_and_reconnects_with_kkpsk0(
    hub: RunningHub, tmp_path: Path
) -> None:
    identity = _identity(tmp_path, hub, "tofu")
    pin_id = f"{hub.host}:{hub.port}"
    with HiveMessageBusClient(identity=identity) as client:
        started = time.monotonic()
        info = client.connect()
        first = time.monotonic() - started
        assert client.hub_pin_id == pin_id
        assert info.handshake == "noise-XXpsk2"
        _round_trip(client, "first contact")
    pinned = identity.pinned_hub(pin_id)
    assert pinned is not None and len(pinned) == 64
    assert identity.cached_psk(str(info.hub_node_id), identity.access_key) is not None
    # a new process with the same identity: same static key, cached PSK, KKpsk0
    again = NodeIdentity(identity.path)
    with HiveMessageBusClient(identity=again) as client:
        started = time.monotonic()
        info = client.connect()
        second = time.monotonic() - started
        assert info.handshake == "noise-KKpsk0"
        _round_trip(client, "second contact")
    print(f"\nv3 connect: first {first * 1000:.0f} ms (argon2id), then {second * 1000:.0f} ms")


def test_a_pinned_key_that_does_not_match_is_refused(hub: RunningHub, tmp_path: Path) -> None:
    identity = _identity(tmp_path, hub, "mismatch")
    pin_id = f"{hub.host}:{hub.port}"
    identity.pin_hub(pin_id, "ab" * 32)
    started = time.monotonic()
    with (
        HiveMessageBusClient(identity=identity) as client,
        pytest.raises(HandshakeFailed, match="does not match the key pinned") as failure,
    ):
        client.connect()
    assert time.monotonic() - started < 5
    assert pin_id in str(failure.value) and "forget_hub" in str(failure.value)
    assert identity.pinned_hub(pin_id) == "ab" * 32  # the pin is kept
    assert identity.forget_hub(pin_id)
    with HiveMessageBusClient(identity=identity) as client:
        assert client.connect().protocol_version == 3  # pinned again on first use


def test_a_stale_cached_psk_is_dropped_and_the_connect_retried_once(
    hub: RunningHub, tmp_path: Path
) -> None:
    """The password changed since the PSK was cached: KKpsk0 fails at the hub, connect()
    drops the PSK and retries at once with XXpsk2 and a PSK derived from the password."""
    identity = _identity(tmp_path, hub, "stale")
    with HiveMessageBusClient(identity=identity) as client:
        node_id = str(client.connect().hub_node_id)
    good = identity.cached_psk(node_id, identity.access_key)
    assert good is not None
    identity.cache_psk(node_id, identity.access_key, "00" * 32)
    key = str(identity.access_key)
    before = _connections(hub, key)
    with HiveMessageBusClient(identity=identity) as client:
        info = client.connect()
        assert info.handshake == "noise-XXpsk2"
        _round_trip(client, "after the stale PSK")
    assert _connections(hub, key) - before == 2
    assert identity.cached_psk(node_id, identity.access_key) == good


def test_a_new_static_key_behind_an_old_pin_is_refused_after_one_retry(
    hub: RunningHub, tmp_path: Path
) -> None:
    """A recreated identity (new static key) that kept the hub pin: KKpsk0 fails at the hub,
    the XXpsk2 retry gets the hub's refusal of our key, which is reported."""
    old = _identity(tmp_path, hub, "old")
    with HiveMessageBusClient(identity=old) as client:
        client.connect()
    pin_id = f"{hub.host}:{hub.port}"
    new = NodeIdentity(tmp_path / "new" / "_identity.json")
    new.access_key, new.password = old.access_key, DEFAULT_PASSWORD
    new.default_master, new.default_port = hub.host, hub.port
    new.pin_hub(pin_id, str(old.pinned_hub(pin_id)))
    key = str(old.access_key)
    before = _connections(hub, key)
    with (
        HiveMessageBusClient(identity=new) as client,
        pytest.raises(HandshakeFailed, match="refused our Noise static key"),
    ):
        client.connect()
    assert _connections(hub, key) - before == 2


def test_the_hub_refuses_another_static_key_for_the_same_access_key(
    hub: RunningHub, tmp_path: Path, driver: str
) -> None:
    """Two identities (two static keys) with one access key: the hub pinned the first one's,
    so the second is refused, and says what to do."""
    key = _key()
    hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    first_identity = NodeIdentity(tmp_path / "first" / "_identity.json")
    with _client(hub, driver=driver, key=key, identity=first_identity) as first:
        first.connect()
    second_identity = NodeIdentity(tmp_path / "second" / "_identity.json")
    with (
        _client(
            hub, driver=driver, key=key, identity=second_identity, reconnect=FAST_RECONNECT
        ) as second,
        pytest.raises(HandshakeFailed, match="refused our Noise static key"),
    ):
        second.connect()
    time.sleep(1.0)
    assert _connections(hub, key) == 2


def test_two_clients_with_one_access_key_and_the_default_identity_both_connect(
    hub: RunningHub, driver: str
) -> None:
    """No identity given: both read the identity file, so both present its one static key."""
    key = _key()
    hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    with (
        _client(hub, driver=driver, key=key) as first,
        _client(hub, driver=driver, key=key) as second,
    ):
        assert first.connect().protocol_version == 3
        assert second.connect().protocol_version == 3
        _round_trip(first, "first of two")
        _round_trip(second, "second of two")
    assert _connections(hub, key) == 2


_CONNECT_SCRIPT = """
import sys
from hivemind_client import Message
from hivemind_client.sync.client import HiveMessageBusClient

key, password, host, port, app = sys.argv[1:6]
with HiveMessageBusClient(key=key, password=password, host=host, port=int(port),
                          app_name=app or None) as client:
    info = client.connect()
    answer = client.wait_for_response(
        Message("recognizer_loop:utterance", {"utterances": ["from a process"]}), "speak",
        timeout=10)
    print(info.protocol_version, info.handshake, answer.data["utterance"] if answer else None)
"""


@pytest.mark.parametrize("app", ["", "kitchen-satellite"])
def test_two_processes_with_one_access_key_and_the_default_identity_both_connect(
    hub: RunningHub, app: str
) -> None:
    """A second run of a satellite (a new process) presents the same static key as the first:
    the shared identity file, or the application's own one (``app_name``)."""
    key = _key()
    hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    if app:  # the application has a file of its own (else it would read the shared one)
        NodeIdentity(app_name=app, shared_fallback=False).save()
    args = [
        sys.executable,
        "-c",
        _CONNECT_SCRIPT,
        key,
        DEFAULT_PASSWORD,
        hub.host,
        str(hub.port),
        app,
    ]
    runs = [
        subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    # the first run derives the PSK and runs XXpsk2; the second finds the pin and runs KKpsk0
    assert [run.stdout.split()[:2] for run in runs] == [
        ["3", "noise-XXpsk2"],
        ["3", "noise-KKpsk0"],
    ]
    assert all("echo: from a process" in run.stdout for run in runs)
    home = Path(os.environ["XDG_CONFIG_HOME"]) / "hivemind"
    identity = NodeIdentity(home / app / "_identity.json" if app else home / "_identity.json")
    assert identity.noise_key_path.is_file()
    assert identity.pinned_hub(f"{hub.host}:{hub.port}") is not None


def test_the_same_client_class_speaks_v1_to_4_0_and_v3_to_5_3(hub: RunningHub, driver: str) -> None:
    with RunningHub("4.0", start=False) as legacy, _client(legacy, driver=driver) as client:
        legacy.start()
        info = client.connect()
        assert (info.protocol_version, info.handshake) == (1, "password")
        _round_trip(client, "legacy hub")
    with _client(hub, driver=driver) as client:
        info = client.connect()
        assert (info.protocol_version, info.handshake) == (3, "noise-XXpsk2")
        _round_trip(client, "noise hub")
