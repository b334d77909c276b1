"""The sans-I/O session against a scripted hub: every path without a socket."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hivemind_client import HiveMessage, HiveMindError, Message
from hivemind_client.core.events import (
    ConnectionClosed,
    ConnectionFailed,
    HandshakeCompleted,
    HelloReceived,
    MessageDropped,
    MessageReceived,
)
from hivemind_client.core.session import ClientSession, SessionConfig, SessionState
from hivemind_client.errors import (
    AuthenticationFailed,
    HandshakeFailed,
    InvalidJSON,
    InvalidPayload,
    NotConnected,
    UnsupportedVersion,
)
from hivemind_client.errors import (
    ConnectionFailed as ConnectionFailedError,
)

from .scripted_hub import ScriptedHub


def _session(password: str = "hub-password", **config: object) -> ClientSession:
    return ClientSession(
        SessionConfig(password=password, site_id="kitchen", public_key_pem="SAT-PEM", **config),
        now=0.0,
    )  # type: ignore[arg-type]


def _connected(binarize: bool = False, **hub_options: object) -> tuple[ClientSession, ScriptedHub]:
    session, hub = _session(), ScriptedHub(binarize=binarize, **hub_options)  # type: ignore[arg-type]
    hub.greet(session)
    hub.answer(session)
    return session, hub


def test_password_handshake_completes_and_sends_our_hello() -> None:
    session, hub = _connected()
    events = session.events()
    assert isinstance(events[0], HelloReceived)
    assert events[0].node_id == "master:0.0.0.0"
    completed = events[1]
    assert isinstance(completed, HandshakeCompleted)
    assert (completed.handshake, completed.cipher, completed.encoding, completed.binarize) == (
        "password",
        hub.cipher,
        "JSON-B64",
        False,
    )
    assert session.state is SessionState.READY
    assert session.next_timer() is None
    hello = hub.received[0]
    assert hello.msg_type.value == "hello"
    assert hello.raw_payload == {
        "pubkey": "SAT-PEM",
        "session": {"session_id": session.config.session_id, "site_id": "kitchen"},
        "site_id": "kitchen",
    }
    assert session.config.session_id != "default"


def test_we_offer_b64_first_and_b91_last() -> None:
    session, hub = _session(), ScriptedHub(encodings=("JSON-B91", "JSON-B64", "JSON-HEX"))
    hub.greet(session)
    request = HiveMessage.deserialize(session.messages_to_send()[0])
    assert request.raw_payload["encodings"][0] == "JSON-B64"  # type: ignore[index]
    assert request.raw_payload["encodings"][-1] == "JSON-B91"  # type: ignore[index]


@pytest.mark.parametrize("binarize", [False, True])
def test_messages_flow_both_ways(binarize: bool) -> None:
    session, hub = _connected(binarize=binarize)
    session.events()
    speak = HiveMessage("bus", Message("speak", {"utterance": "hi"}))
    session.receive_message(hub.seal(speak), 1.0)
    session.receive_message(hub.seal(speak, binary=True), 1.0)
    received = [e for e in session.events() if isinstance(e, MessageReceived)]
    assert [e.message.payload for e in received] == [speak.payload, speak.payload]
    session.send(HiveMessage("bus", Message("recognizer_loop:utterance", {"utterances": ["x"]})))
    wire = session.messages_to_send()
    assert isinstance(wire[0], bytes) is binarize
    hub.take(wire[0])
    assert hub.received[-1].payload.msg_type == "recognizer_loop:utterance"


def test_binary_and_intercom_choose_their_own_framing() -> None:
    session, hub = _connected(binarize=True)
    session.send(HiveMessage("bin", b"\x00\x01", bin_type=1))
    session.send(HiveMessage("intercom", {"ciphertext": "x"}))
    binary, text = session.messages_to_send()
    assert isinstance(binary, bytes)
    assert isinstance(text, str)


def test_wrong_password_fails_at_once() -> None:
    session, hub = _session(password="not-the-password"), ScriptedHub(password="hub-password")
    hub.greet(session)
    hub.answer(session)
    failure = session.events()[-1]
    assert isinstance(failure, ConnectionFailed)
    assert isinstance(failure.error, HandshakeFailed)
    assert "wrong password" in str(failure.error)
    assert session.state is SessionState.CLOSED


def test_handshake_deadline() -> None:
    session = _session()
    assert session.next_timer() == 10.0
    session.handle_timer(9.9)
    assert session.events() == []
    session.handle_timer(10.0)
    (failure,) = session.events()
    assert isinstance(failure, ConnectionFailed)
    assert isinstance(failure.error, HandshakeFailed)


def test_hub_refusal_during_handshake() -> None:
    session = _session()
    session.connection_lost(1008, "invalid api key", 0.5)
    (failure,) = session.events()
    assert isinstance(failure, ConnectionFailed)
    assert isinstance(failure.error, ConnectionFailedError)
    assert "1008" in str(failure.error) and "invalid api key" in str(failure.error)


def test_drop_after_session_is_a_close_event() -> None:
    session, _ = _connected()
    session.events()
    session.connection_lost(1006, "", 2.0)
    assert session.events() == [ConnectionClosed(1006, "")]


def test_hub_requiring_a_newer_protocol() -> None:
    session, hub = _session(), ScriptedHub(min_protocol_version=3)
    hub.greet(session)
    failure = session.events()[-1]
    assert isinstance(failure, ConnectionFailed)
    assert isinstance(failure.error, UnsupportedVersion)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("not json", InvalidJSON),
        (b"\x00\x01", InvalidPayload),
        ('{"msg_type": "bus", "payload": {"type": "x"}}', InvalidPayload),
    ],
)
def test_garbage_before_the_handshake_fails_the_session(
    data: str | bytes, error: type[HiveMindError]
) -> None:
    session = _session()
    session.receive_message(data, 0.0)
    (failure,) = session.events()
    assert isinstance(failure, ConnectionFailed)
    assert isinstance(failure.error, error)


def test_cleartext_after_the_key_is_dropped() -> None:
    session, _ = _connected()
    session.events()
    session.receive_message(HiveMessage("bus", Message("speak")).serialize(), 1.0)
    (dropped,) = session.events()
    assert isinstance(dropped, MessageDropped)
    assert isinstance(dropped.error, InvalidPayload)
    assert session.state is SessionState.READY


def test_tampered_frames_are_dropped() -> None:
    session, hub = _connected(binarize=True)
    session.events()
    blob = bytearray(hub.seal(HiveMessage("bus", Message("speak")), binary=True))  # type: ignore[arg-type]
    blob[-1] ^= 1
    session.receive_message(bytes(blob), 1.0)
    (dropped,) = session.events()
    assert isinstance(dropped, MessageDropped)
    assert isinstance(dropped.error, AuthenticationFailed)


def test_send_before_ready() -> None:
    with pytest.raises(NotConnected):
        _session().send(HiveMessage("bus", Message("x")))


@given(st.lists(st.one_of(st.text(max_size=80), st.binary(max_size=80)), max_size=6), st.booleans())
def test_random_frames_never_escape(frames: list[str | bytes], keyed: bool) -> None:
    session = _connected()[0] if keyed else _session()
    for index, data in enumerate(frames):
        session.receive_message(data, float(index))
    for event in session.events():
        if isinstance(event, ConnectionFailed | MessageDropped):
            assert isinstance(event.error, HiveMindError)
    with contextlib.suppress(NotConnected):
        session.send(HiveMessage("bus", Message("x")))


# -- v1 session key as a request (event-loop drivers) -------------------------------------------


def test_a_deferred_link_key_is_asked_for_and_the_hubs_early_messages_wait_for_it() -> None:
    """With ``defer_link_key`` the 35 ms PBKDF2 leaves the session as a DeriveLinkKey request
    (the asyncio driver runs it in an executor); what the hub sends meanwhile is kept."""
    from hivemind_client.core.requests import DeriveLinkKey
    from hivemind_client.security.legacy_handshake import link_key

    session, hub = _session(defer_link_key=True), ScriptedHub()
    hub.greet(session)
    hub.answer(session)  # the hub derives its key and answers; we have not yet
    assert session.state is SessionState.AWAITING_KEY
    assert session.messages_to_send() == []  # our HELLO waits for the key
    [request] = session.requests()
    assert isinstance(request, DeriveLinkKey)
    assert "hub-password" not in repr(request)
    early = hub.seal(HiveMessage("bus", Message("speak", {"utterance": "early"})))
    session.receive_message(early, 0.1)
    assert session.state is SessionState.AWAITING_KEY
    session.receive_link_key(link_key(request.password, request.salt), now=0.2)
    assert session.state is SessionState.READY
    assert link_key(request.password, request.salt) == hub.key
    events = session.events()
    assert any(isinstance(event, HandshakeCompleted) for event in events)
    received = [event for event in events if isinstance(event, MessageReceived)]
    assert [event.message.payload.data for event in received] == [{"utterance": "early"}]
    for data in session.messages_to_send():
        hub.take(data)
    assert [message.msg_type.value for message in hub.received] == ["hello"]


def test_a_deferred_link_key_that_never_comes_ends_at_the_handshake_deadline() -> None:
    session, hub = _session(defer_link_key=True, handshake_timeout=1.0), ScriptedHub()
    hub.greet(session)
    hub.answer(session)
    assert session.state is SessionState.AWAITING_KEY
    for n in range(64):  # a hub that floods while we derive is bounded too
        session.receive_message(f"early {n}", 0.1)
    assert session.state is SessionState.AWAITING_KEY
    session.handle_timer(1.5)
    assert session.closed
    failures = [event for event in session.events() if isinstance(event, ConnectionFailed)]
    assert failures and isinstance(failures[0].error, HandshakeFailed)
    session.receive_link_key(bytes(32), now=2.0)  # late: ignored
    assert session.closed


def test_a_flood_while_the_link_key_is_derived_fails_the_session() -> None:
    session, hub = _session(defer_link_key=True), ScriptedHub()
    hub.greet(session)
    hub.answer(session)
    for n in range(65):
        session.receive_message(f"early {n}", 0.1)
    assert session.closed
    failures = [event for event in session.events() if isinstance(event, ConnectionFailed)]
    assert failures and isinstance(failures[0].error, InvalidPayload)
