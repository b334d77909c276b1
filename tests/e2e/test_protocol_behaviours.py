"""End to end: the protocol behaviours of hivemind_bus_client 1.2 that a real hub shows.

- the RSA handshake when no password is given: hivemind-core 4.0 offers it for a client record
  with neither a password nor a pre-shared key; 5.3 never does (it admits the Noise handshake
  only, keyed by the password);
- QUERY answers (``query_id``) reaching the internal bus, ended by ``hive.query.complete``, and
  the hub's ``hive.query.timeout`` when nobody answers;
- the hub's session state (``active_handlers``, ``converse_handlers``, ``response_mode``,
  ``intent_context``) kept and sent back on the next message;
- ``hive.policy.denied`` for a message type the client may not send, the link staying up;
- close code 4003 (an illegal BROADCAST) followed by a reconnect, with no ``auth_rejected``;
- ``max_protocol_version`` below 3 against a 5.3 hub: refused before any secret is sent.

Each behaviour test runs with the threaded and the asyncio driver (the ``driver`` fixture).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hivemind_client import HiveMessage, Message
from hivemind_client.errors import HandshakeFailed, UnsupportedVersion
from hivemind_client.sync.driver import ReconnectPolicy
from hivemind_client.wire.message_types import HiveMessageType
from tests.drivers import make_client

from .hubs import DEFAULT_PASSWORD, RunningHub

pytestmark = pytest.mark.e2e

FAST_RECONNECT = ReconnectPolicy(first_delay=0.2, max_delay=1.0, stable_after=0.0)
UTTERANCE = "recognizer_loop:utterance"


def _key() -> str:
    return "k" + uuid.uuid4().hex[:15]


@pytest.fixture(scope="module")
def hub() -> Iterator[RunningHub]:
    """hivemind-core 5.3; the echo also ends each answer with ovos.utterance.handled, as
    ovos-core does, which is what ends a QUERY's answer stream."""
    with RunningHub("5.3", echo_handled=True) as running:
        yield running


@pytest.fixture(scope="module")
def hub40() -> Iterator[RunningHub]:
    with RunningHub("4.0") as running:
        yield running


def _client(hub: RunningHub, driver: str, **options: Any) -> Any:
    key = _key()
    allow = options.pop("allow", (UTTERANCE,))
    hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD, allow=allow)
    options.setdefault("password", DEFAULT_PASSWORD)
    return make_client(driver, key=key, host=hub.host, port=hub.port, **options)


def _until(condition: Callable[[], object], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def _utterance(text: str) -> Message:
    return Message(UTTERANCE, {"utterances": [text], "lang": "en-US"})


def _round_trip(client: Any, text: str) -> Message:
    answer = client.wait_for_response(_utterance(text), "speak", timeout=15)
    assert isinstance(answer, Message), "no speak answer from the hub"
    assert answer.data["utterance"] == f"echo: {text}"
    return answer


# -- the RSA handshake -----------------------------------------------------------------------------
def test_rsa_handshake_keys_the_link_when_the_hub_has_no_password(
    hub40: RunningHub, driver: str
) -> None:
    """No password on either side: hub 4.0 offers its RSA handshake, we key the link with the
    identity's RSA key and the bus works both ways."""
    key = _key()
    hub40.add_keyless_client(f"sat-{key}", key)
    with make_client(driver, key=key, password=None, host=hub40.host, port=hub40.port) as client:
        info = client.connect()
        assert (info.protocol_version, info.handshake) == (1, "rsa")
        _round_trip(client, "keyed by rsa")


def test_hub_53_offers_no_rsa_handshake(hub: RunningHub) -> None:
    """hivemind-core 5.3 admits the Noise handshake only; without the password the client says
    so instead of trying RSA."""
    with _client(hub, "threaded", password=None, identity=None) as client:
        client.password = None  # the shared identity file has none either
        with pytest.raises(HandshakeFailed, match="requires protocol v3"):
            client.connect()


# -- QUERY ------------------------------------------------------------------------------------------
def _query(client: Any, message: Message) -> None:
    client.emit(HiveMessage(HiveMessageType.QUERY, HiveMessage(HiveMessageType.BUS, message)))


def test_query_answers_reach_the_bus_and_the_end_marker_does_not(
    hub: RunningHub, driver: str
) -> None:
    spoken: list[Message] = []
    raw: list[HiveMessage] = []
    with _client(hub, driver) as client:
        client.on_mycroft("speak", spoken.append)
        client.on_mycroft("hive.query.complete", spoken.append)
        client.on(HiveMessageType.QUERY, raw.append)
        client.connect()
        _query(client, _utterance("what is a query"))
        ended = _until(lambda: any(_inner_type(m) == "hive.query.complete" for m in raw))
        assert ended, f"the hub never ended the answer stream: {raw}"
        # handlers run in order on one dispatcher: the answer came before the end marker
        assert _until(lambda: spoken), "the QUERY answer never reached the bus"
    assert [_inner_type(m) for m in raw] == ["speak", "hive.query.complete"]
    texts = [m.data.get("utterance") for m in spoken]
    assert texts == ["echo: what is a query"]
    answer = next(m for m in spoken if m.data.get("utterance") == "echo: what is a query")
    assert answer.context.get("query_id")  # the hub's query id reaches the bus with it
    assert all(m.msg_type == "speak" for m in spoken)  # the end marker stayed off the bus


def _inner_type(message: HiveMessage) -> Any:
    inner: Any = message.payload
    if isinstance(inner, HiveMessage):
        inner = inner.payload
    return getattr(inner, "msg_type", None)


def test_an_unanswerable_query_ends_with_the_hubs_timeout_on_the_bus(
    hub: RunningHub, driver: str
) -> None:
    """An empty utterance: the hub's agent declines, there is no upstream, so the hub answers
    ``hive.query.timeout`` (error ``no_answer``), which reaches the bus."""
    with _client(hub, driver) as client:
        client.connect()
        _query(client, Message(UTTERANCE, {"utterances": [], "lang": "en-US"}))
        timeout = client.wait_for_mycroft("hive.query.timeout", timeout=15)
    assert timeout is not None, "no hive.query.timeout on the bus"
    assert timeout.data.get("error") == "no_answer"


# -- the session state round trip ------------------------------------------------------------------
def test_the_hubs_session_state_comes_back_on_the_next_message(
    hub: RunningHub, driver: str
) -> None:
    with _client(hub, driver, site_id="kitchen") as client:
        client.connect()
        _round_trip(client, "hello session")
        peer = hub.last_peer()
        assert peer
        # the hub scopes a client's session id on its bus ("<namespace>:<ours>") and restores
        # ours on the way down; answer under the scoped id, as ovos-core would
        first = [
            m for m in hub.bus_messages(UTTERANCE) if m["data"]["utterances"] == ["hello session"]
        ]
        scoped = first[-1]["context"]["session"]["session_id"]
        assert scoped.endswith(f":{client.session_id}")
        state = {
            "session_id": scoped,
            "active_handlers": ["skill.weather"],
            "converse_handlers": ["skill.weather"],
            "response_mode": {"skill_id": "skill.weather", "expires_at": time.time() + 60},
            "intent_context": {"frames": [{"Location": "Lisbon"}]},
        }
        hub.bus_emit(
            "speak",
            {"utterance": "where?"},
            {"destination": peer, "source": "skills", "session": state},
        )
        assert client.wait_for_mycroft("speak", timeout=15) is not None
        kept = client.hub_session
        assert kept is not None
        assert kept["session_id"] == client.session_id
        assert kept["active_handlers"] == ["skill.weather"]
        assert kept["intent_context"] == {"frames": [{"Location": "Lisbon"}]}
        _round_trip(client, "in Lisbon")
    seen = [m for m in hub.bus_messages(UTTERANCE) if m["data"]["utterances"] == ["in Lisbon"]]
    assert seen, "the second utterance never reached the hub's bus"
    session = seen[-1]["context"]["session"]
    assert session["session_id"] == state["session_id"]
    for field in ("active_handlers", "converse_handlers", "response_mode", "intent_context"):
        assert session.get(field) == state[field], field


# -- hive.policy.denied -----------------------------------------------------------------------------
def test_a_refused_message_type_gets_policy_denied_and_the_link_stays_up(
    hub: RunningHub, driver: str
) -> None:
    denied: list[Message] = []
    with _client(hub, driver) as client:
        client.on_mycroft("hive.policy.denied", denied.append)
        client.connect()
        client.emit_mycroft(Message("skill.secret.action", {"x": 1}))
        assert _until(lambda: denied), "no hive.policy.denied"
        assert client.connected_event.is_set()
        _round_trip(client, "still allowed")
    assert "skill.secret.action" in str(denied[0].data)
    assert not hub.bus_messages("skill.secret.action")


def test_a_blacklisted_message_type_gets_policy_denied(hub: RunningHub, driver: str) -> None:
    """``blacklist-msg`` on a type the client was allowed: the hub refuses it from then on."""
    denied: list[Message] = []
    with _client(hub, driver, allow=(UTTERANCE, "skill.ok")) as client:
        client.on_mycroft("hive.policy.denied", denied.append)
        client.connect()
        node_id = hub.clients[str(client.key)]["node_id"]
        hub.blacklist_msg("skill.ok", node_id)
        client.close()
        client.connect()  # the hub reads the client's record at connect time
        client.emit_mycroft(Message("skill.ok", {}))
        assert _until(lambda: denied), "no hive.policy.denied for a blacklisted type"
        _round_trip(client, "the rest still works")
    assert not hub.bus_messages("skill.ok")


# -- close code 4003 --------------------------------------------------------------------------------
def test_an_illegal_broadcast_is_kicked_with_4003_and_the_client_reconnects(
    hub: RunningHub, driver: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hivemind_client")
    events: list[str] = []
    closed = threading.Event()
    with _client(hub, driver, reconnect=FAST_RECONNECT) as client:
        for name in ("close", "reconnecting", "auth_rejected", "open"):
            client.emitter.on(name, lambda *_, name=name: events.append(name))
        client.emitter.on("close", lambda *_: closed.set())
        client.connect()
        client.emit(HiveMessage(HiveMessageType.BROADCAST, HiveMessage("bus", _utterance("x"))))
        assert closed.wait(15), "the hub did not close the link"
        assert _until(lambda: events.count("open") >= 2), events
        _round_trip(client, "back after the kick")
    assert "auth_rejected" not in events
    assert "reconnecting" in events
    assert "close code 4003" in caplog.text


# -- max_protocol_version ---------------------------------------------------------------------------
@pytest.mark.parametrize("cap", [1, 2])
def test_a_client_capped_below_v3_is_refused_by_hub_53_before_sending_a_secret(
    hub: RunningHub, cap: int
) -> None:
    """The 5.3 hub offers only Noise (no legacy fields): a client capped at v1 or v2 refuses at
    once with ``unsupported-version``, and the hub sees no password envelope."""
    with _client(hub, "threaded", max_protocol_version=cap) as client:
        with pytest.raises(UnsupportedVersion, match=f"speaks up to {cap}"):
            client.connect()
        key = str(client.key)
    log = hub.hub_log.read_text(errors="replace")
    assert key not in log or "envelope" not in log.split(key, 1)[1][:2000]


def test_a_client_capped_at_v1_speaks_legacy_to_hub_40(hub40: RunningHub, driver: str) -> None:
    key = _key()
    hub40.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    with make_client(
        driver,
        key=key,
        password=DEFAULT_PASSWORD,
        host=hub40.host,
        port=hub40.port,
        max_protocol_version=1,
    ) as client:
        assert client.connect().protocol_version == 1
        _round_trip(client, "legacy")
