"""Protocol v3 in the sans-I/O session: a scripted hivemind-core 5.x hub built on OUR Noise
responder (``HandshakeState(initiator=False)``) drives ClientSession without sockets.

The hub side follows hivemind-core 5.3.10a1 ``handle_new_client`` / ``handle_noise_handshake
_message`` / ``_finish_noise_handshake``: cleartext HELLO and offer, Noise messages hex-encoded
in HANDSHAKE payloads, its own TOFU pin on the client's static key (KKpsk0 offered once pinned),
and a 1008 close for every handshake failure.
"""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hivemind_client import HiveMessage, HiveMindError, Message
from hivemind_client.core.events import (
    ConnectionClosed,
    ConnectionFailed,
    Event,
    HandshakeCompleted,
    HelloReceived,
    MessageDropped,
    MessageReceived,
)
from hivemind_client.core.requests import CachePsk, DerivePsk, PinHubKey
from hivemind_client.core.session import (
    ClientSession,
    NoiseLink,
    SessionConfig,
    SessionState,
)
from hivemind_client.errors import (
    AuthenticationFailed,
    HandshakeFailed,
    InvalidPayload,
    NotConnected,
    PayloadTooLarge,
    UnsupportedVersion,
)
from hivemind_client.errors import (
    ConnectionFailed as ConnectionFailedError,
)
from hivemind_client.identity.stores import MemoryNoiseStore
from hivemind_client.security.hivemind_noise import (
    CHUNK_SIZE,
    PATTERN_KK,
    PATTERN_XX,
    SUITE_AESGCM,
    SUITE_CHACHAPOLY,
    NoiseTransport,
    build_prologue,
    derive_psk,
)
from hivemind_client.security.noise import HandshakeState, x25519_public_key
from hivemind_client.wire.codec import decode_binary, decode_json, encode_binary

from .driven_session import DrivenSession

PASSWORD = "Ecru-Tapir-93-Quill-Marzipan"
NODE_ID = "-----BEGIN PUBLIC KEY-----\nHUB-NODE-ID\n-----END PUBLIC KEY-----"
HUB_STATIC = bytes(range(1, 33))
CLIENT_STATIC = b"\x42" * 32
PIN_ID = "127.0.0.1:5678"


@functools.lru_cache(maxsize=8)
def _psk(password: str, node_id: str = NODE_ID) -> bytes:
    """argon2id once per password for the whole module (~0.15 s each)."""
    return derive_psk(password, node_id)


class ScriptedNoiseHub:
    """The hub's half of protocol v3, as hivemind-core 5.3 plays it, for one ClientSession."""

    def __init__(
        self,
        password: str = PASSWORD,
        *,
        binarize: bool = False,
        pinned_client_key: bytes | None = None,
        patterns: tuple[str, ...] | None = None,
        suites: tuple[str, ...] = (SUITE_CHACHAPOLY, SUITE_AESGCM),
        legacy_fields: dict[str, Any] | None = None,
        static: bytes = HUB_STATIC,
    ) -> None:
        self.psk = _psk(password)
        self.static = static
        self.pinned_client_key = pinned_client_key
        self.hello = {"pubkey": "HUB-PEM", "peer": "ua::1::sat::sess", "node_id": NODE_ID}
        if patterns is None:  # KK only once the hub pinned our key, as 5.3 does
            patterns = (PATTERN_KK, PATTERN_XX) if pinned_client_key else (PATTERN_XX,)
        self.offer: dict[str, Any] = {
            "max_protocol_version": 3,
            "binarize": binarize,
            "encodings": ["JSON-B64", "JSON-HEX"],
            "ciphers": ["AES-GCM"],
            "noise": {"patterns": list(patterns), "suites": list(suites)},
            **(legacy_fields or {}),
        }
        self.state: HandshakeState | None = None
        self.transport: NoiseTransport | None = None
        self.client_payload: dict[str, Any] = {}
        self.received: list[HiveMessage] = []
        self.closed: tuple[int, str] | None = None
        self.wire: list[bytes] = []  # every transport message the client sent, in order
        self.kinds: list[str] = []  # "json" or "frame", per message received

    @property
    def public_key(self) -> bytes:
        return x25519_public_key(self.static)

    def greet(self, session: ClientSession, now: float = 0.0) -> None:
        session.receive_message(HiveMessage("hello", self.hello).serialize(), now)
        session.receive_message(HiveMessage("shake", self.offer).serialize(), now)

    def run(self, session: ClientSession, now: float = 0.0) -> None:
        """Answer everything the session sent until it has nothing more to say."""
        while (outgoing := session.messages_to_send()) and self.closed is None:
            for data in outgoing:
                self.take(data, session, now)

    def close(self, session: ClientSession, code: int, reason: str, now: float = 0.0) -> None:
        self.closed = (code, reason)
        session.connection_lost(code, reason, now)

    def take(self, data: str | bytes, session: ClientSession, now: float = 0.0) -> None:
        if self.closed is not None:
            return
        if self.transport is None:
            self._handshake(data, session, now)
            return
        if not isinstance(data, bytes):
            self.close(session, 1008, "non-Noise message received on a protocol v3 session")
            return
        self.wire.append(data)
        plaintext = self.transport.decrypt(data)
        if plaintext is not None:
            self.kinds.append("frame" if isinstance(plaintext, bytes) else "json")
            self.received.append(
                decode_binary(plaintext) if isinstance(plaintext, bytes) else decode_json(plaintext)
            )

    def _handshake(self, data: str | bytes, session: ClientSession, now: float) -> None:
        request = decode_json(data)
        if request.msg_type.value != "shake" or not isinstance(request.raw_payload, dict):
            self.close(session, 1008, "this node requires the v3 Noise handshake")
            return
        noise = request.raw_payload.get("noise") or {}
        message = bytes.fromhex(noise["msg"])
        try:
            if self.state is None:
                pattern, suite = noise["pattern"], noise["suite"]
                name = f"Noise_{pattern}_{suite}"
                self.state = HandshakeState(
                    name,
                    initiator=False,
                    prologue=build_prologue(self.hello, self.offer, name),
                    static_private=self.static,
                    psks=[self.psk],
                    remote_static=self.pinned_client_key if pattern == PATTERN_KK else None,
                )
                self.client_payload = json.loads(self.state.read_message(message) or b"{}")
                answer = json.dumps({"encoding": self.client_payload["encodings"][0]})
                reply = {"noise": {"msg": self.state.write_message(answer.encode()).hex()}}
                session.receive_message(HiveMessage("shake", reply).serialize(), now)
                if not self.state.complete:
                    return
            else:
                self.state.read_message(message)
        except HiveMindError as exc:
            self.close(session, 1008, f"handshake failure: {exc}")
            return
        remote = self.state.remote_static
        if self.pinned_client_key and remote != self.pinned_client_key:
            self.close(session, 1008, "client Noise static key contradicts the pinned key")
            return
        self.pinned_client_key = remote
        self.transport = NoiseTransport(*self.state.split())

    def seal(self, message: HiveMessage, *, binary: bool = False) -> list[bytes]:
        assert self.transport is not None
        if binary:
            return self.transport.encrypt_binary(encode_binary(message, compress=False))
        return self.transport.encrypt_json(message.serialize())

    def deliver(
        self, session: ClientSession, message: HiveMessage, *, binary: bool = False
    ) -> None:
        for data in self.seal(message, binary=binary):
            session.receive_message(data, 1.0)


def _store(*, cached: bool = True, pin: bytes | None = None) -> MemoryNoiseStore:
    store = MemoryNoiseStore("access-key")
    if cached:
        store.cache_psk(NODE_ID, _psk(PASSWORD))
    if pin is not None:
        store.pin_hub_key(PIN_ID, pin)
    return store


def _session(
    password: str | None = PASSWORD, *, store: MemoryNoiseStore | None = None, **config: Any
) -> DrivenSession:
    return DrivenSession(
        SessionConfig(
            password=password,
            site_id="kitchen",
            public_key_pem="SAT-PEM",
            noise_static_key=config.pop("noise_static_key", CLIENT_STATIC),
            hub_pin_id=PIN_ID,
            **config,
        ),
        now=0.0,
        store=store if store is not None else _store(),
    )


def _connected(
    *, binarize: bool = False, store: MemoryNoiseStore | None = None, **config: Any
) -> tuple[DrivenSession, ScriptedNoiseHub]:
    session = _session(store=store, binarize=binarize, **config)
    hub = ScriptedNoiseHub(binarize=binarize)
    hub.greet(session)
    hub.run(session)
    assert session.state is SessionState.READY, session.events()
    return session, hub


def _failure(session: ClientSession) -> HiveMindError:
    events = session.events()
    assert isinstance(events[-1], ConnectionFailed), events
    assert session.state is SessionState.CLOSED
    return events[-1].error


def _completed(events: list[Event]) -> HandshakeCompleted:
    found = [event for event in events if isinstance(event, HandshakeCompleted)]
    assert len(found) == 1, events
    return found[0]


# -- happy paths --------------------------------------------------------------------------------


def test_xxpsk2_from_the_password_pins_the_hub_caches_the_psk_and_sends_hello() -> None:
    store = _store(cached=False)
    session, hub = _connected(store=store)
    events = session.events()
    assert isinstance(events[0], HelloReceived) and events[0].node_id == NODE_ID
    completed = _completed(events)
    assert completed == HandshakeCompleted(3, "noise-XXpsk2", SUITE_CHACHAPOLY, "JSON-B64", False)
    assert (session.protocol_version, session.handshake_kind) == (3, "noise-XXpsk2")
    assert isinstance(session.link, NoiseLink)
    assert session.next_timer() is None
    # message 1 told the hub our binarize flag and our encodings, B64 first
    assert hub.client_payload["binarize"] is False
    assert hub.client_payload["encodings"][0] == "JSON-B64"
    assert hub.client_payload["encodings"][-1] == "JSON-B91"
    # our HELLO is the first transport message, JSON
    hello = hub.received[0]
    assert hello.msg_type.value == "hello"
    assert hello.raw_payload == {
        "pubkey": "SAT-PEM",
        "session": {"session_id": session.config.session_id, "site_id": "kitchen"},
        "site_id": "kitchen",
    }
    assert hub.wire[0][0:0] == b"" and len(hub.wire) == 1
    # trust on first use, and the PSK kept for the next connection
    assert store.pinned_hub_key(PIN_ID) == hub.public_key
    assert store.cached_psk(NODE_ID) == _psk(PASSWORD)
    assert hub.pinned_client_key == x25519_public_key(CLIENT_STATIC)


def test_hello_without_a_public_key_leaves_the_field_out() -> None:
    session = DrivenSession(
        SessionConfig(password=PASSWORD, hub_pin_id=PIN_ID), now=0.0, store=_store()
    )
    hub = ScriptedNoiseHub()
    hub.greet(session)
    hub.run(session)
    assert "pubkey" not in hub.received[0].raw_payload  # type: ignore[operator]


def test_second_connection_runs_kkpsk0_without_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(cached=False)
    first, hub = _connected(store=store)
    _completed(first.events())

    def no_argon2(password: str, node_id: str) -> bytes:
        raise AssertionError("the PSK should come from the cache")

    monkeypatch.setattr("hivemind_client.identity.stores.derive_psk", no_argon2)
    second = _session(store=store)
    again = ScriptedNoiseHub(pinned_client_key=hub.pinned_client_key)
    again.greet(second)
    again.run(second)
    completed = _completed(second.events())
    assert (completed.protocol_version, completed.handshake) == (3, "noise-KKpsk0")
    assert again.received[0].msg_type.value == "hello"


@pytest.mark.parametrize("suites", [(SUITE_AESGCM,), (SUITE_AESGCM, SUITE_CHACHAPOLY)])
def test_suite_follows_our_preference(suites: tuple[str, ...]) -> None:
    session = _session()
    hub = ScriptedNoiseHub(suites=suites)
    hub.greet(session)
    hub.run(session)
    expected = SUITE_CHACHAPOLY if SUITE_CHACHAPOLY in suites else SUITE_AESGCM
    assert _completed(session.events()).cipher == expected


@pytest.mark.parametrize("binarize", [False, True])
def test_messages_flow_both_ways(binarize: bool) -> None:
    session, hub = _connected(binarize=binarize)
    assert _completed(session.events()).binarize is binarize
    assert hub.client_payload["binarize"] is binarize
    speak = HiveMessage("bus", Message("speak", {"utterance": "hi"}))
    hub.deliver(session, speak)
    hub.deliver(session, speak, binary=True)
    received = [e for e in session.events() if isinstance(e, MessageReceived)]
    assert [e.message.payload for e in received] == [speak.payload, speak.payload]
    session.send(HiveMessage("bus", Message("recognizer_loop:utterance", {"utterances": ["x"]})))
    session.send(HiveMessage("bin", b"\x00\x01", bin_type=1))
    session.send(HiveMessage("intercom", {"ciphertext": "x"}))
    hub.run(session)
    bus, binary, intercom = hub.received[1:]
    assert bus.payload.msg_type == "recognizer_loop:utterance"  # type: ignore[union-attr]
    assert binary.raw_payload == b"\x00\x01"
    assert intercom.msg_type.value == "intercom"
    # every websocket message is binary; the marker byte said JSON or binary frame
    assert all(isinstance(data, bytes) for data in hub.wire)
    assert hub.kinds == ["json", "frame" if binarize else "json", "frame", "json"]


# -- large messages -----------------------------------------------------------------------------


@pytest.mark.parametrize("binarize", [False, True])
def test_a_message_larger_than_one_noise_message_is_chunked_both_ways(binarize: bool) -> None:
    session, hub = _connected(binarize=binarize, compress=False)
    session.events()
    utterance = "x" * 200_000
    big = HiveMessage("bus", Message("speak", {"utterance": utterance}))
    chunks = hub.seal(big, binary=binarize)
    assert len(chunks) == 4 and all(len(chunk) <= 65535 for chunk in chunks)
    for index, chunk in enumerate(chunks):
        session.receive_message(chunk, 1.0)
        events = session.events()
        if index < len(chunks) - 1:
            assert events == []  # nothing until the last chunk
    (received,) = events
    assert isinstance(received, MessageReceived)
    assert received.message.payload.data["utterance"] == utterance  # type: ignore[union-attr]
    session.send(
        HiveMessage("bus", Message("recognizer_loop:utterance", {"utterances": [utterance]}))
    )
    wire = session.messages_to_send()
    assert len(wire) == 4 and all(isinstance(w, bytes) and len(w) <= 65535 for w in wire)
    for data in wire:
        hub.take(data, session)
    assert hub.received[-1].payload.data["utterances"] == [utterance]  # type: ignore[union-attr]
    # and a BINARY payload of 300 kB, which is never compressed
    audio = bytes(range(256)) * 1200
    session.send(HiveMessage("bin", audio, bin_type=1))
    wire = session.messages_to_send()
    assert len(wire) == len(audio) // CHUNK_SIZE + 1
    for data in wire:
        hub.take(data, session)
    assert hub.received[-1].raw_payload == audio


def test_reassembly_is_bounded() -> None:
    session, hub = _connected(max_reassembly=100_000)
    session.events()
    for chunk in hub.seal(HiveMessage("bus", Message("speak", {"utterance": "x" * 200_000}))):
        session.receive_message(chunk, 1.0)
    error = _failure(session)
    assert isinstance(error, PayloadTooLarge)


# -- failures -----------------------------------------------------------------------------------


def test_wrong_password_is_a_clear_error_and_caches_nothing() -> None:
    store = _store(cached=False)
    session = _session("Wrong-Password-77-Zebra", store=store)
    hub = ScriptedNoiseHub()
    hub.greet(session)
    hub.run(session)
    error = _failure(session)
    assert isinstance(error, HandshakeFailed)
    assert "wrong password" in str(error)
    assert store.cached_psk(NODE_ID) is None
    assert store.pinned_hub_key(PIN_ID) is None  # an unauthenticated key is never pinned
    assert not session.stale_psk_dropped


def test_a_stale_cached_psk_is_dropped_and_worth_a_retry() -> None:
    store = MemoryNoiseStore("access-key")
    store.cache_psk(NODE_ID, _psk("Old-Password-From-Last-Year-11"))
    session = _session(store=store)
    hub = ScriptedNoiseHub()
    hub.greet(session)
    hub.run(session)
    error = _failure(session)
    assert isinstance(error, ConnectionFailedError) and "cached PSK" in str(error)
    assert session.stale_psk_dropped
    assert store.cached_psk(NODE_ID) is None
    # the retry derives the PSK from the password and succeeds
    retry = _session(store=store)
    hub = ScriptedNoiseHub()
    hub.greet(retry)
    hub.run(retry)
    assert _completed(retry.events()).protocol_version == 3
    assert store.cached_psk(NODE_ID) == _psk(PASSWORD)


def test_a_hub_key_contradicting_the_pin_is_refused() -> None:
    wrong = x25519_public_key(b"\x07" * 32)
    store = _store(pin=wrong)
    session = _session(store=store)
    hub = ScriptedNoiseHub()  # a fresh hub: it offers XXpsk2 only
    hub.greet(session)
    hub.run(session)
    error = _failure(session)
    assert isinstance(error, HandshakeFailed)
    text = str(error)
    assert PIN_ID in text and "forget_hub" in text and hub.public_key.hex() in text
    assert store.pinned_hub_key(PIN_ID) == wrong  # the pin stays
    assert hub.received == []  # no HELLO went out


def test_kkpsk0_closed_by_the_hub_falls_back_to_xxpsk2_which_names_the_pin() -> None:
    """Pinned hub key is stale and the hub pinned us: KK fails at the hub, XX says why."""
    wrong = x25519_public_key(b"\x07" * 32)
    store = _store(pin=wrong)
    client_key = x25519_public_key(CLIENT_STATIC)
    session = _session(store=store)
    hub = ScriptedNoiseHub(pinned_client_key=client_key)
    hub.greet(session)
    hub.run(session)
    assert hub.closed is not None and hub.closed[0] == 1008
    error = _failure(session)
    assert isinstance(error, ConnectionFailedError) and "KKpsk0" in str(error)
    assert session.kk_rejected and session.stale_psk_dropped
    retry = _session(store=store, allow_kk=False)
    hub = ScriptedNoiseHub(pinned_client_key=client_key)
    hub.greet(retry)
    hub.run(retry)
    error = _failure(retry)
    assert isinstance(error, HandshakeFailed) and "forget_hub" in str(error)


def test_a_hub_that_refuses_our_static_key_after_xxpsk2_is_a_handshake_failure() -> None:
    """No pin on our side, but the hub pinned another key for our access key (KK offered)."""
    session = _session(store=_store())
    hub = ScriptedNoiseHub(pinned_client_key=x25519_public_key(b"\x99" * 32))
    hub.greet(session)
    hub.run(session)
    assert hub.closed == (1008, "client Noise static key contradicts the pinned key")
    error = _failure(session)
    assert isinstance(error, HandshakeFailed)
    assert "refused our Noise static key" in str(error) and "same identity" in str(error)


def test_refusal_window_ends_with_the_timer_or_the_first_message() -> None:
    client_key = x25519_public_key(CLIENT_STATIC)
    for ending in ("timer", "message"):
        session = _session(store=_store(), allow_kk=False, v3_refusal_window=0.5)
        hub = ScriptedNoiseHub(pinned_client_key=client_key)
        hub.greet(session, now=2.0)
        hub.run(session, now=2.0)
        assert session.state is SessionState.AWAITING_CONFIRMATION
        assert not session.ready and session.next_timer() == 2.5
        with pytest.raises(NotConnected):
            session.send(HiveMessage("bus", Message("x")))
        assert not any(isinstance(e, HandshakeCompleted) for e in session.events())
        if ending == "timer":
            session.handle_timer(2.4)
            assert session.events() == []
            session.handle_timer(2.5)
            (completed,) = session.events()
        else:
            hub.deliver(session, HiveMessage("bus", Message("speak")))
            completed, received = session.events()
            assert isinstance(received, MessageReceived)
        assert isinstance(completed, HandshakeCompleted)
        assert completed.handshake == "noise-XXpsk2"
        assert session.ready


@pytest.mark.parametrize("attack", ["replay", "tamper", "reorder", "text"])
def test_replayed_tampered_reordered_or_text_transport_messages_are_fatal(attack: str) -> None:
    session, hub = _connected()
    session.events()
    first, second = (hub.seal(HiveMessage("bus", Message("speak", {"n": n})))[0] for n in (1, 2))
    if attack == "replay":
        frames: list[str | bytes] = [first, first]
    elif attack == "tamper":
        frames = [first[:-1] + bytes([first[-1] ^ 1])]
    elif attack == "reorder":
        frames = [second, first]
    else:
        frames = [HiveMessage("bus", Message("speak")).serialize()]
    for frame in frames:
        session.receive_message(frame, 1.0)
    events = session.events()
    failure = events[-1]
    assert isinstance(failure, ConnectionFailed)
    expected = InvalidPayload if attack == "text" else AuthenticationFailed
    assert isinstance(failure.error, expected)
    assert session.state is SessionState.CLOSED
    session.receive_message(second, 2.0)  # nothing after the close
    assert session.events() == []
    with pytest.raises(NotConnected):
        session.send(HiveMessage("bus", Message("x")))


def test_a_message_that_decrypts_but_does_not_decode_is_only_dropped() -> None:
    session, hub = _connected()
    session.events()
    assert hub.transport is not None
    for bad in ("not json", '{"msg_type": "bus", "payload": {"no": "type"}}'):
        (frame,) = hub.transport.encrypt_json(bad)
        session.receive_message(frame, 1.0)
    (frame,) = hub.transport.encrypt_json(HiveMessage("shake", {"noise": {}}).serialize())
    session.receive_message(frame, 1.0)
    events = session.events()
    assert len(events) == 3 and all(isinstance(e, MessageDropped) for e in events)
    assert session.ready
    hub.deliver(session, HiveMessage("bus", Message("speak")))
    assert isinstance(session.events()[0], MessageReceived)


def test_hub_requiring_v3_without_a_password_fails_clearly() -> None:
    session = _session(None, crypto_key=b"0123456789abcdef")
    ScriptedNoiseHub().greet(session)
    error = _failure(session)
    assert isinstance(error, HandshakeFailed)
    assert "requires protocol v3" in str(error) and "password" in str(error)
    assert session.messages_to_send() == []


def test_a_4x_hub_with_a_v3_floor_and_no_password_fails_clearly() -> None:
    legacy = {"min_protocol_version": 3, "password": True, "handshake": False}
    session = _session(None)
    ScriptedNoiseHub(legacy_fields=legacy).greet(session)
    error = _failure(session)
    assert isinstance(error, HandshakeFailed) and "requires protocol v3" in str(error)


def test_a_session_limited_to_v2_refuses_a_v3_only_hub() -> None:
    session = _session(max_protocol_version=2)
    ScriptedNoiseHub().greet(session)
    assert isinstance(_failure(session), UnsupportedVersion)


def test_a_4x_hub_offering_both_uses_noise_or_falls_back_when_nothing_is_mutual() -> None:
    legacy = {"min_protocol_version": 2, "password": True, "handshake": False}
    session, hub = _session(), ScriptedNoiseHub(legacy_fields=legacy)
    hub.greet(session)
    hub.run(session)
    assert _completed(session.events()).protocol_version == 3
    session = _session()
    ScriptedNoiseHub(legacy_fields=legacy, suites=("448_ChaChaPoly_BLAKE2b",)).greet(session)
    (request,) = session.messages_to_send()
    payload = HiveMessage.deserialize(request).raw_payload
    assert isinstance(payload, dict) and "envelope" in payload and "noise" not in payload
    assert session.state is SessionState.AWAITING_HANDSHAKE


def test_a_v3_only_hub_with_nothing_mutual() -> None:
    session = _session()
    ScriptedNoiseHub(patterns=("NNpsk0",)).greet(session)
    error = _failure(session)
    assert isinstance(error, HandshakeFailed) and "no common Noise pattern" in str(error)


def test_v3_offer_without_a_hello() -> None:
    session = _session()
    session.receive_message(HiveMessage("shake", ScriptedNoiseHub().offer).serialize(), 0.0)
    assert isinstance(_failure(session), HandshakeFailed)


@pytest.mark.parametrize(
    ("code", "error"),
    [(1008, HandshakeFailed), (1006, ConnectionFailedError), (None, ConnectionFailedError)],
)
def test_close_during_the_xx_handshake(code: int | None, error: type[HiveMindError]) -> None:
    session = _session()
    ScriptedNoiseHub().greet(session)
    assert session.messages_to_send()  # message 1
    session.connection_lost(code, "pattern/suite not offered", 0.5)
    failure = _failure(session)
    assert type(failure) is error
    assert not session.kk_rejected


@pytest.mark.parametrize("answer", [{"noise": {"msg": "zz"}}, {"noise": {}}, {"envelope": "00"}])
def test_malformed_noise_answers(answer: dict[str, Any]) -> None:
    session = _session()
    ScriptedNoiseHub().greet(session)
    session.messages_to_send()
    session.receive_message(HiveMessage("shake", answer).serialize(), 0.1)
    assert isinstance(_failure(session), HandshakeFailed)


def test_handshake_deadline_applies_to_v3() -> None:
    session = _session()
    ScriptedNoiseHub().greet(session)
    session.handle_timer(10.0)
    assert isinstance(_failure(session), HandshakeFailed)


def test_drop_after_the_v3_session_is_a_close_event() -> None:
    session, _ = _connected()
    session.events()
    session.connection_lost(1001, "going away", 3.0)
    assert session.events() == [ConnectionClosed(1001, "going away")]


def test_the_session_makes_a_static_key_when_given_none() -> None:
    session = _session(noise_static_key=None)
    hub = ScriptedNoiseHub()
    hub.greet(session)
    hub.run(session)
    assert session.ready
    assert hub.pinned_client_key not in (None, x25519_public_key(CLIENT_STATIC))


def test_memory_store_is_bounded_and_scoped_by_access_key() -> None:
    store = MemoryNoiseStore("key-a", max_entries=2)
    for n in range(3):
        store.cache_psk(f"hub-{n}", bytes([n]) * 32)
        store.pin_hub_key(f"host:{n}", bytes([n]) * 32)
    assert store.cached_psk("hub-0") is None and store.cached_psk("hub-2") == b"\x02" * 32
    assert store.pinned_hub_key("host:0") is None and store.forget_hub("host:2")
    other = MemoryNoiseStore("key-b")
    assert other.cached_psk("hub-2") is None
    store.forget_psk("hub-2")
    assert store.cached_psk("hub-2") is None


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=80), st.binary(max_size=120)), max_size=5))
def test_random_frames_never_escape_a_v3_session(frames: list[str | bytes]) -> None:
    session, _ = _connected()
    session.events()
    for index, data in enumerate(frames):
        session.receive_message(data, float(index))
    for event in session.events():
        if isinstance(event, ConnectionFailed | MessageDropped):
            assert isinstance(event.error, HiveMindError)
    with contextlib.suppress(NotConnected):
        session.send(HiveMessage("bus", Message("x")))


# -- side effects are requests: the core derives nothing and touches no store -------------------


def test_the_core_asks_for_the_psk_and_completes_the_handshake_when_fed_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_argon2(password: str, node_id: str) -> bytes:
        raise AssertionError("argon2id must not run inside the session")

    monkeypatch.setattr("hivemind_client.security.hivemind_noise.derive_psk", no_argon2)
    session = ClientSession(
        SessionConfig(password=PASSWORD, noise_static_key=CLIENT_STATIC, hub_pin_id=PIN_ID),
        now=0.0,
    )
    hub = ScriptedNoiseHub()
    hub.greet(session)
    assert session.state is SessionState.AWAITING_PSK
    assert session.requests() == [DerivePsk(NODE_ID, PASSWORD)]
    assert session.messages_to_send() == []  # nothing goes out before the PSK is known
    assert PASSWORD not in repr(DerivePsk(NODE_ID, PASSWORD))  # requests never log secrets
    session.receive_psk(_psk(PASSWORD), cached=False, now=0.1)
    hub.run(session)
    assert session.ready
    assert _completed(session.events()).handshake == "noise-XXpsk2"
    # what to remember comes back as requests too: the pin (first use) and the accepted PSK
    assert session.requests() == [
        PinHubKey(PIN_ID, hub.public_key),
        CachePsk(NODE_ID, _psk(PASSWORD)),
    ]


def test_a_cached_psk_fed_back_is_not_cached_again_and_uses_the_pinned_key() -> None:
    session = ClientSession(
        SessionConfig(
            password=PASSWORD,
            noise_static_key=CLIENT_STATIC,
            hub_pin_id=PIN_ID,
            pinned_hub_key=x25519_public_key(HUB_STATIC),
        ),
        now=0.0,
    )
    hub = ScriptedNoiseHub(pinned_client_key=x25519_public_key(CLIENT_STATIC))
    hub.greet(session)
    session.requests()
    session.receive_psk(_psk(PASSWORD), cached=True, now=0.1)
    hub.run(session)
    assert _completed(session.events()).handshake == "noise-KKpsk0"
    assert session.requests() == []  # the pin was known, the PSK came from the cache


def test_anything_from_the_hub_while_the_psk_is_derived_is_refused() -> None:
    session = ClientSession(SessionConfig(password=PASSWORD, hub_pin_id=PIN_ID), now=0.0)
    hub = ScriptedNoiseHub()
    hub.greet(session)
    session.receive_message(HiveMessage("shake", hub.offer).serialize(), 0.05)
    error = _failure(session)
    assert isinstance(error, InvalidPayload) and "awaiting-psk" in str(error)
    session.receive_psk(_psk(PASSWORD), cached=False, now=0.1)  # too late: ignored
    assert session.messages_to_send() == [] and session.state is SessionState.CLOSED


def test_a_psk_of_the_wrong_size_fails_the_session_cleanly() -> None:
    session = ClientSession(SessionConfig(password=PASSWORD, hub_pin_id=PIN_ID), now=0.0)
    ScriptedNoiseHub().greet(session)
    session.receive_psk(b"short", cached=False, now=0.1)
    assert isinstance(_failure(session), HandshakeFailed)
