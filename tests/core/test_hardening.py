"""Issue 14 in the sans-I/O core: downgrade (4), v1 replay and reflection (8), the size of
what is read before the link is keyed (3), and the handshake deadline (9)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hivemind_client import HiveMessage, Message
from hivemind_client.core.events import (
    HandshakeCompleted,
    MessageDropped,
    MessageReceived,
    SessionFailed,
)
from hivemind_client.core.links import DEFAULT_NONCE_WINDOW, LegacyLink
from hivemind_client.core.session import (
    DEFAULT_MAX_HANDSHAKE_MESSAGE,
    PREFERRED_ENCODINGS,
    ClientSession,
    SessionConfig,
    SessionState,
)
from hivemind_client.errors import (
    AuthenticationFailed,
    HandshakeFailed,
    HiveMindError,
    PayloadTooLarge,
    UnsupportedVersion,
)
from hivemind_client.security.aead import open_json_with_nonce, seal_json_with_nonce
from hivemind_client.security.noise import x25519_public_key

from .scripted_hub import ScriptedHub
from .test_session_v3 import HUB_STATIC, PIN_ID, ScriptedNoiseHub, _session, _store

PINNED = x25519_public_key(HUB_STATIC)
LEGACY_FIELDS = {"min_protocol_version": 0, "password": True, "handshake": False}


def _v1_session(**config: Any) -> ClientSession:
    config.setdefault("password", "hub-password")
    return ClientSession(
        SessionConfig(site_id="kitchen", public_key_pem="SAT-PEM", hub_pin_id=PIN_ID, **config),
        now=0.0,
    )


def _failed(session: ClientSession) -> HiveMindError:
    events = session.events()
    assert events and isinstance(events[-1], SessionFailed), events
    assert session.state is SessionState.CLOSED
    return events[-1].error


def _no_envelope_sent(session: ClientSession) -> None:
    """Nothing derived from the password left: no HANDSHAKE carrying an envelope."""
    for data in session.messages_to_send():
        assert "envelope" not in str(data), data


def _connected(*, binarize: bool = False, **config: Any) -> tuple[ClientSession, ScriptedHub]:
    session, hub = _v1_session(**config), ScriptedHub(binarize=binarize)
    hub.greet(session)
    hub.answer(session)
    assert session.state is SessionState.READY
    session.events()
    return session, hub


def _bus(text: str = "hello") -> HiveMessage:
    return HiveMessage("bus", Message("speak", {"utterance": text}))


# -- item 4: downgrade --------------------------------------------------------------------------


def test_a_pinned_hub_offering_only_v1_gets_no_envelope_and_the_failure_names_the_pin() -> None:
    session = _v1_session(pinned_hub_key=PINNED)
    ScriptedHub().greet(session)
    _no_envelope_sent(session)
    error = _failed(session)
    assert isinstance(error, HandshakeFailed)
    assert "pinned" in str(error) and PIN_ID in str(error) and "downgrade" in str(error)


@pytest.mark.parametrize(
    "config",
    [
        {"crypto_key": b"0123456789abcdef", "password": None},  # v0, a pre-shared key
        {"max_protocol_version": 2},  # v3 switched off by the user
    ],
)
def test_a_pinned_hub_is_never_spoken_to_below_v3(config: dict[str, Any]) -> None:
    session = _v1_session(pinned_hub_key=PINNED, **config)
    ScriptedHub().greet(session)
    assert session.messages_to_send() == []
    error = _failed(session)
    assert isinstance(error, HandshakeFailed) and PIN_ID in str(error)


def test_a_pinned_4x_hub_offering_both_without_a_mutual_pattern_does_not_fall_back() -> None:
    session = _session(store=_store(pin=PINNED))
    hub = ScriptedNoiseHub(legacy_fields=LEGACY_FIELDS, suites=("448_ChaChaPoly_BLAKE2b",))
    hub.greet(session)
    _no_envelope_sent(session)
    error = _failed(session)
    assert isinstance(error, HandshakeFailed)
    assert PIN_ID in str(error) and "no Noise pattern and suite we share" in str(error)


def test_a_pinned_4x_hub_offering_both_still_runs_noise() -> None:
    session = _session(store=_store(pin=PINNED))
    hub = ScriptedNoiseHub(legacy_fields=LEGACY_FIELDS)
    hub.greet(session)
    hub.run(session)
    assert session.state is SessionState.READY and session.protocol_version == 3


def test_min_protocol_version_3_refuses_a_v1_hub_before_the_envelope() -> None:
    session = _v1_session(min_protocol_version=3)
    ScriptedHub().greet(session)
    assert session.messages_to_send() == []
    error = _failed(session)
    assert isinstance(error, UnsupportedVersion) and "min_protocol_version=3" in str(error)


def test_min_protocol_version_1_refuses_a_pre_shared_key() -> None:
    session = _v1_session(password=None, crypto_key=b"0123456789abcdef", min_protocol_version=1)
    ScriptedHub().greet(session)
    assert session.messages_to_send() == []
    assert isinstance(_failed(session), UnsupportedVersion)


def test_an_unpinned_client_still_speaks_to_a_4_0_hub() -> None:
    session, hub = _v1_session(), ScriptedHub()
    assert SessionConfig().min_protocol_version <= 1
    hub.greet(session)
    hub.answer(session)
    assert session.state is SessionState.READY and session.protocol_version == 1


# -- item 8: v1 replay and reflection -----------------------------------------------------------


def _delivered(session: ClientSession, data: str | bytes, now: float = 1.0) -> bool:
    session.receive_message(data, now)
    (event,) = session.events()
    if isinstance(event, MessageDropped):
        assert isinstance(event.error, AuthenticationFailed), event
        return False
    assert isinstance(event, MessageReceived), event
    return True


@pytest.mark.parametrize("binary", [False, True])
def test_a_replayed_hub_frame_is_dropped_and_the_link_goes_on(binary: bool) -> None:
    session, hub = _connected(binarize=binary)
    recorded = hub.seal(_bus("turn on the oven"), binary=binary)
    assert _delivered(session, recorded)
    session.receive_message(recorded, 2.0)
    (dropped,) = session.events()
    assert isinstance(dropped, MessageDropped) and isinstance(dropped.error, AuthenticationFailed)
    assert "replayed" in str(dropped.error)
    assert session.state is SessionState.READY
    assert _delivered(session, hub.seal(_bus("fresh"), binary=binary), 3.0)


def test_a_replay_respelled_as_other_json_is_still_dropped() -> None:
    session, hub = _connected()
    recorded = hub.seal(_bus())
    assert _delivered(session, recorded)
    fields = json.loads(recorded)
    respelled = json.dumps({"nonce": fields["nonce"], **fields}, indent=1)
    assert not _delivered(session, respelled)


@pytest.mark.parametrize("binarize", [False, True])
def test_our_own_frame_bounced_back_is_dropped(binarize: bool) -> None:
    session, _ = _connected(binarize=binarize)
    session.send(_bus("what time is it"))
    (ours,) = session.messages_to_send()
    session.receive_message(ours, 1.0)
    (dropped,) = session.events()
    assert isinstance(dropped, MessageDropped) and "reflected" in str(dropped.error)
    assert session.state is SessionState.READY


def test_the_nonce_window_is_bounded_and_configurable() -> None:
    key = bytes(32)
    hub = LegacyLink(key, "AES-GCM", "JSON-B64", binarize=True, compress=False)
    link = LegacyLink(key, "AES-GCM", "JSON-B64", binarize=True, compress=False, nonce_window=100)
    frames = [hub.outgoing(_bus(str(n)))[0] for n in range(10_000)]
    for frame in frames:
        link.incoming(frame)
        link.outgoing(_bus())
    assert len(link.received_nonces) == len(link.sent_nonces) == 100
    assert len(link.received_nonces._order) == 100  # the memory the bound is about
    assert len(hub.sent_nonces) == DEFAULT_NONCE_WINDOW
    with pytest.raises(AuthenticationFailed):
        link.incoming(frames[-1])
    link.incoming(frames[0])  # older than the window: the documented limit


def test_the_session_passes_its_window_to_the_link() -> None:
    session, _ = _connected(nonce_window=7)
    assert isinstance(session.link, LegacyLink) and session.link.received_nonces.size == 7


# -- item 3: the size of what comes before the keys ----------------------------------------------


def _hello(padding: str) -> str:
    payload = {"pubkey": "HUB-PEM", "node_id": "master", "peer": "p", "pad": padding}
    return HiveMessage("hello", payload).serialize()


@pytest.mark.parametrize(
    "data",
    [
        _hello("a" * DEFAULT_MAX_HANDSHAKE_MESSAGE),
        _hello("\u20ac" * (DEFAULT_MAX_HANDSHAKE_MESSAGE // 2)),  # fewer characters than bytes
        b"\x00" * (DEFAULT_MAX_HANDSHAKE_MESSAGE + 1),
    ],
)
def test_a_large_message_before_the_handshake_is_refused(data: str | bytes) -> None:
    session = _v1_session()
    session.receive_message(data, 0.1)
    error = _failed(session)
    assert isinstance(error, PayloadTooLarge) and "max_handshake_message" in str(error)


def test_the_handshake_bound_is_configurable_and_ends_with_the_handshake() -> None:
    session = _v1_session(max_handshake_message=2048)
    session.receive_message(_hello("-" * 1500), 0.1)  # a real HELLO: two key PEMs
    assert session.state is SessionState.AWAITING_OFFER
    session = _v1_session(max_handshake_message=2048)
    session.receive_message(_hello("-" * 2048), 0.1)
    assert isinstance(_failed(session), PayloadTooLarge)
    session, hub = _connected(max_handshake_message=2048)
    assert _delivered(session, hub.seal(_bus("x" * 100_000)))


# -- item 9: the handshake deadline --------------------------------------------------------------


def test_the_handshake_deadline_is_fixed_at_creation_v1() -> None:
    session = ClientSession(SessionConfig(password="hub-password"), now=0.0)
    assert session.next_timer() == 10.0
    hello = {"pubkey": "HUB-PEM", "peer": "p", "node_id": "master"}
    session.receive_message(HiveMessage("hello", hello).serialize(), 1.0)
    offer = {"max_protocol_version": 1, "password": True, "ciphers": ["AES-GCM"]}
    session.receive_message(HiveMessage("shake", offer).serialize(), 2.0)
    assert session.messages_to_send()  # our HANDSHAKE; the hub never answers
    session.events()
    for now in range(3, 10):
        session.handle_timer(float(now))
        assert session.next_timer() == 10.0 and session.events() == []
    session.handle_timer(10.0)
    error = _failed(session)
    assert isinstance(error, HandshakeFailed) and "10 s" in str(error)


def test_the_handshake_deadline_is_fixed_at_creation_v3() -> None:
    session = ClientSession(
        SessionConfig(password="pw", noise_static_key=bytes(range(32)), handshake_timeout=10.0),
        now=0.0,
    )
    hub = ScriptedNoiseHub()
    session.receive_message(HiveMessage("hello", hub.hello).serialize(), 1.0)
    session.receive_message(HiveMessage("shake", hub.offer).serialize(), 2.0)
    assert session.state is SessionState.AWAITING_PSK and session.next_timer() == 10.0
    session.requests()
    session.receive_psk(bytes(32), cached=False, now=9.0)  # the driver was slow
    assert session.state is SessionState.AWAITING_HANDSHAKE and session.next_timer() == 10.0
    session.handle_timer(9.99)
    assert not session.closed
    session.handle_timer(10.0)
    assert isinstance(_failed(session), HandshakeFailed)


def test_garbage_during_the_handshake_does_not_buy_time() -> None:
    session = _v1_session()
    session.receive_message(_hello(""), 1.0)
    session.receive_message("{", 2.0)
    assert session.closed and session.next_timer() is None
    assert not any(isinstance(event, HandshakeCompleted) for event in session.events())


@pytest.mark.parametrize("encoding", sorted(PREFERRED_ENCODINGS))
def test_aead_hands_back_the_nonce_it_sealed_and_opened_with(encoding: str) -> None:
    key = bytes(range(32))
    text, nonce = seal_json_with_nonce("hi", key, cipher="AES-GCM", encoding=encoding)
    assert len(nonce) == 16
    assert open_json_with_nonce(text, key, cipher="AES-GCM", encoding=encoding) == ("hi", nonce)
    parsed = json.loads(text)
    assert open_json_with_nonce(parsed, key, cipher="AES-GCM", encoding=encoding)[1] == nonce
