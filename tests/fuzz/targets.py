"""Fuzz targets: plain functions of one ``bytes`` input, shared by atheris and hypothesis.

Each target feeds hostile input to one layer. The common invariant (the library's rule for peer input):
any input is accepted or refused with a documented error, a
:class:`~hivemind_client.errors.HiveMindError`. Anything else that escapes is a crash; an
``AssertionError`` raised here marks a broken property of an accepted input (a round trip, a
canonical spelling, a state the session must be in). :func:`run` applies the invariant.

The atheris wrappers (``fuzz_<target>.py``) and ``tests/test_fuzz_properties.py`` (hypothesis
plus a replay of ``corpus/<target>/``) call the same functions, so a crash found locally stays a
regression test in CI. No atheris import here.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from hivemind_client.core.events import (
    ConnectionClosed,
    ConnectionFailed,
    HandshakeCompleted,
    HelloReceived,
    MessageDropped,
    MessageReceived,
)
from hivemind_client.core.session import ClientSession, LegacyLink, SessionConfig, SessionState
from hivemind_client.errors import HiveMindError
from hivemind_client.security import legacy_handshake as handshake_module
from hivemind_client.security.aead import Cipher, open_binary, open_json, seal_binary, seal_json
from hivemind_client.security.encodings import ENCODINGS, decode_text, encode_text
from hivemind_client.security.legacy_handshake import (
    PasswordHandshake,
    RsaHandshake,
    _hashed_subject,
    negotiate,
)
from hivemind_client.wire.codec import decode_binary, decode_json, encode_binary
from hivemind_client.wire.frame import decode_frame, encode_frame
from hivemind_client.wire.message import HiveMessage, Message
from hivemind_client.wire.message_types import HiveMessageType
from hivemind_client.wire.validation import validate_message

__all__ = ["TARGETS", "Reader", "fast_kdf", "run"]

#: A small inflation bound keeps each execution fast; the bound's logic is the same at 32 MiB.
FUZZ_MAX_INFLATED = 64 * 1024
_EVENT_TYPES = (
    HelloReceived,
    HandshakeCompleted,
    MessageReceived,
    MessageDropped,
    ConnectionFailed,
    ConnectionClosed,
)


class Reader:
    """Carves structured values out of fuzz bytes (a tiny FuzzedDataProvider, no atheris)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.position

    def byte(self) -> int:
        if self.position >= len(self.data):
            return 0
        value = self.data[self.position]
        self.position += 1
        return value

    def choice(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return options[self.byte() % len(options)]

    def chunk(self) -> bytes:
        """A length byte, then up to that many bytes (255 means 'up to 4 KiB')."""
        size = self.byte()
        if size == 255:
            size = self.byte() * 16
        out = self.data[self.position : self.position + size]
        self.position += len(out)
        return out

    def rest(self) -> bytes:
        out = self.data[self.position :]
        self.position = len(self.data)
        return out


def fast_kdf() -> None:
    """Cut PBKDF2 to 10 rounds in this process (both fuzz hub and client read the module value).

    For the atheris session fuzzer only: a password handshake then costs microseconds, not
    2 x 40 ms. Behaviour is otherwise identical; CI runs the real value.
    """
    handshake_module.PBKDF2_ITERATIONS = 10  # type: ignore[misc]


def run(target: Callable[[bytes], None], data: bytes) -> None:
    """Call ``target``; refusals (HiveMindError) are fine, anything else propagates."""
    with contextlib.suppress(HiveMindError):
        target(data)


def _text(data: bytes) -> str:
    """Bytes as str with every code point reachable (lone surrogates included)."""
    return data.decode("utf-8", "surrogatepass") if _is_utf8(data) else data.decode("latin-1")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# frames


def decode_frame_target(data: bytes) -> None:
    """decode_frame and decode_binary; an accepted plain frame re-encodes to the same bytes."""
    try:
        frame = decode_frame(data, max_inflated_size=FUZZ_MAX_INFLATED)
    except HiveMindError:
        frame = None
    if frame is not None and not frame.compressed and not frame.versioned:
        again = encode_frame(frame.msg_type, frame.metadata, frame.payload, bin_type=frame.bin_type)
        assert again == data, "an accepted plain frame does not re-encode to its bytes"
    decode_binary(data, max_inflated_size=FUZZ_MAX_INFLATED)


# --------------------------------------------------------------------------------------------
# JSON messages and schema validation


def decode_json_target(data: bytes) -> None:
    """decode_json on bytes and str; validate_message on any JSON value; round trips."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        value = None
    else:
        with contextlib.suppress(HiveMindError):
            validate_message(value)
    if _is_utf8(data):
        with contextlib.suppress(HiveMindError):
            decode_json(data.decode("utf-8", "surrogatepass"))
    message = decode_json(data)
    text = message.serialize()
    again = decode_json(text)
    assert again.serialize() == text, "an accepted message does not survive serialize/decode"
    try:
        frame = encode_binary(message, compress=None)
    except HiveMindError:
        return  # INTERCOM has no binary form; metadata may not fit 255 bytes
    back = decode_binary(frame)
    assert back.msg_type is message.msg_type


# --------------------------------------------------------------------------------------------
# text encodings


def decode_text_target(data: bytes) -> None:
    """Every encoding: decoding is strict (one spelling per value) and encoding round-trips."""
    reader = Reader(data)
    encoding = reader.choice(ENCODINGS)
    body = reader.rest()
    assert decode_text(encode_text(body, encoding), encoding) == body, f"{encoding} round trip"
    with contextlib.suppress(HiveMindError):
        decode_text(_text(body), encoding)
    decoded = decode_text(body, encoding)
    assert encode_text(decoded, encoding) == body.decode(
        "ascii"
    ), f"{encoding} accepted a non-canonical spelling"


# --------------------------------------------------------------------------------------------
# AEAD envelopes

_KEYS = {
    Cipher.AES_GCM: bytes(range(32)),
    Cipher.CHACHA20_POLY1305: bytes(range(32, 64)),
}


def crypto_target(data: bytes) -> None:
    """open_json (text, bytes and dict envelopes, with and without tag) and open_binary."""
    reader = Reader(data)
    mode = reader.byte() % 5
    cipher = reader.choice(tuple(_KEYS))
    encoding = reader.choice(ENCODINGS)
    key = _KEYS[cipher]
    if mode == 0:
        open_binary(reader.rest(), key, cipher=cipher)
    elif mode == 1:
        body = reader.rest()
        with contextlib.suppress(HiveMindError):
            open_json(body, key, cipher=cipher, encoding=encoding)
        open_json(_text(body), key, cipher=cipher, encoding=encoding)
    elif mode == 2:
        envelope: dict[str, Any] = {
            "ciphertext": _text(reader.chunk()),
            "nonce": _text(reader.chunk()),
        }
        if reader.byte() & 1:
            envelope["tag"] = _text(reader.chunk())
        open_json(envelope, key, cipher=cipher, encoding=encoding)
    elif mode == 3:
        _spliced_envelope(reader, key, cipher, encoding)
    else:
        plaintext = reader.rest()
        blob = seal_binary(plaintext, key, cipher=cipher)
        assert open_binary(blob, key, cipher=cipher) == plaintext, "binary envelope round trip"
        sealed = seal_json(plaintext, key, cipher=cipher, encoding=encoding)
        opened = open_json(sealed, key, cipher=cipher, encoding=encoding)  # InvalidJSON: not UTF-8
        assert opened.encode("utf-8") == plaintext, "JSON envelope round trip"


def _spliced_envelope(reader: Reader, key: bytes, cipher: str, encoding: str) -> None:
    """A sealed envelope with fuzz text spliced in: read as text, it must give what reading it
    as JSON first gives (open_json reads seal_json's own layout without a JSON pass)."""
    text = seal_json(b"fuzz", key, cipher=cipher, encoding=encoding)
    at = reader.byte() * len(text) // 256
    cut = reader.byte() % 8
    text = text[:at] + _text(reader.chunk()) + text[at + cut :]
    outcomes: list[str] = []
    for as_json in (False, True):
        try:
            envelope: str | dict[str, Any] = text
            if as_json:
                envelope = json.loads(text)
                if not isinstance(envelope, dict):
                    outcomes.append("invalid-payload")  # what open_json says of such text
                    continue
            outcomes.append(open_json(envelope, key, cipher=cipher, encoding=encoding))
        except HiveMindError as exc:
            outcomes.append(exc.code)
        except (ValueError, RecursionError):
            outcomes.append("invalid-json")
    assert outcomes[0] == outcomes[1], f"text and JSON readings differ: {outcomes}"


# --------------------------------------------------------------------------------------------
# legacy handshakes

_PASSWORD = "fuzz-password"
_OUR_IV = bytes.fromhex("0011223344556677")
_VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "vectors"


@lru_cache(maxsize=1)
def _rsa_keys() -> tuple[str, str]:
    """(client private PEM, hub public PEM) of the conformance RSA vectors: fixed keys, so a
    saved corpus input opens the same way on every run."""
    vector = json.loads((_VECTORS / "rsa-handshake.json").read_text())["vectors"][0]
    return vector["client_private_pem"], vector["hub_public_pem"]


def handshake_target(data: bytes) -> None:
    """PasswordHandshake.verify/derive_key, RsaHandshake.receive, negotiate/accept."""
    reader = Reader(data)
    mode = reader.byte() % 5
    if mode == 0:  # an arbitrary envelope
        PasswordHandshake(_PASSWORD, iv=_OUR_IV).verify(_text(reader.rest()))
    elif mode == 1:  # a peer IV of the fuzzer's choice, the right hash, a chosen length
        peer_iv = reader.chunk()[:8].ljust(8, b"\0")
        length = 48 + reader.byte() % 40
        envelope = _hashed_subject(_PASSWORD.encode(), peer_iv)[:length]
        if reader.byte() & 1:
            envelope = envelope[: reader.byte() % 80] + _text(reader.rest())
        handshake = PasswordHandshake(_PASSWORD, iv=_OUR_IV)
        handshake.verify(envelope)
        assert handshake.derive_key(envelope) == handshake.key
    elif mode == 2:  # an RSA envelope from the hub whose HELLO key we hold
        client_pem, hub_pem = _rsa_keys()
        handshake = RsaHandshake(client_pem)
        assert len(handshake.receive(_text(reader.rest()), hub_pem)) == 32
    elif mode == 3:  # ... and a HELLO key the hub chose (it is attacker data too)
        client_pem, _ = _rsa_keys()
        pem = _text(reader.chunk())
        RsaHandshake(client_pem).receive(_text(reader.rest()), pem)
    else:  # the hub's offer lists and answer, as JSON
        try:
            value = json.loads(reader.rest())
        except (ValueError, RecursionError):
            return
        if not isinstance(value, dict):
            return
        negotiation = negotiate(value.get("ciphers"), value.get("encodings"))
        negotiation.accept(value)


# --------------------------------------------------------------------------------------------
# the session state machine

_SESSION_PASSWORD = "fuzz-session-password"
_HUB_HELLO = {
    "pubkey": "-----BEGIN PUBLIC KEY-----\nFUZZ\n-----END PUBLIC KEY-----",
    "peer": "fuzz::1::sat::session",
    "node_id": "fuzz-hub",
}


def _offer(binarize: bool) -> dict[str, Any]:
    return {
        "handshake": False,
        "min_protocol_version": 0,
        "max_protocol_version": 1,
        "binarize": binarize,
        "preshared_key": False,
        "password": True,
        "crypto_required": True,
        "encodings": list(ENCODINGS),
        "ciphers": [Cipher.AES_GCM.value, Cipher.CHACHA20_POLY1305.value],
    }


class _Hub:
    """The hub half of the v1 password handshake, enough to key a session."""

    def __init__(self) -> None:
        self.key: bytes | None = None
        self.cipher = Cipher.AES_GCM.value
        self.encoding = ENCODINGS[0].value
        self.handshake = PasswordHandshake(_SESSION_PASSWORD)

    def answer_for(self, request_text: str | bytes, cipher: str, encoding: str) -> str:
        request = decode_json(request_text).raw_payload
        assert isinstance(request, dict)
        peer_iv = bytes.fromhex(request["envelope"][:16])
        salt = bytes(a ^ b for a, b in zip(self.handshake.iv, peer_iv, strict=True))
        self.key = hashlib.pbkdf2_hmac(
            "sha256", _SESSION_PASSWORD.encode(), salt, handshake_module.PBKDF2_ITERATIONS
        )
        self.cipher, self.encoding = cipher, encoding
        answer = {"envelope": self.handshake.envelope, "encoding": encoding, "cipher": cipher}
        return HiveMessage("shake", answer).serialize()

    def seal_text(self, text: bytes) -> str:
        assert self.key is not None
        return seal_json(text, self.key, cipher=self.cipher, encoding=self.encoding)

    def seal_blob(self, blob: bytes) -> bytes:
        assert self.key is not None
        return seal_binary(blob, self.key, cipher=self.cipher)


@lru_cache(maxsize=1)
def _fuzz_hub_psk() -> bytes | None:
    """The v3 PSK for the fuzz hub's node_id, derived once (argon2id takes ~0.15 s)."""
    try:
        from hivemind_client.security.hivemind_noise import derive_psk
    except ImportError:  # pragma: no cover - older trees without protocol v3
        return None
    return derive_psk(_SESSION_PASSWORD, str(_HUB_HELLO["node_id"]))


def _fresh_store() -> Any:
    """A v3 key store with the fuzz hub's PSK cached (None where the session has no v3)."""
    if "noise_store" not in SessionConfig.__dataclass_fields__:
        return None
    from hivemind_client.core.session import MemoryNoiseStore  # type: ignore[attr-defined]

    store = MemoryNoiseStore()
    psk = _fuzz_hub_psk()
    if psk is not None:
        store.cache_psk(str(_HUB_HELLO["node_id"]), psk)
    return store


def _new_session() -> ClientSession:
    config = SessionConfig(password=_SESSION_PASSWORD, site_id="fuzz", handshake_timeout=10.0)
    store = _fresh_store()
    if store is not None:
        config.noise_store = store  # type: ignore[attr-defined]
    return ClientSession(config, now=0.0)


def _copy_session(session: ClientSession) -> ClientSession:
    """A deep copy; the v3 key store (it holds a lock) is replaced by a fresh one."""
    memo: dict[int, Any] = {}
    old_store = getattr(session, "_noise_store", None)
    if old_store is not None:
        new_store = _fresh_store()
        memo[id(old_store)] = new_store  # also what session.config.noise_store refers to
    return copy.deepcopy(session, memo)


_READY: list[tuple[ClientSession, _Hub]] = []


def _ready_sessions() -> list[tuple[ClientSession, _Hub]]:
    """Keyed sessions, made once (PBKDF2 is slow): each cipher, text and binary frames."""
    if not _READY:
        combos = [
            (Cipher.AES_GCM.value, "JSON-B64", False),
            (Cipher.CHACHA20_POLY1305.value, "JSON-B91", True),
            (Cipher.AES_GCM.value, "JSON-Z85P", True),
            (Cipher.CHACHA20_POLY1305.value, "JSON-HEX", False),
        ]
        for cipher, encoding, binarize in combos:
            session, hub = _new_session(), _Hub()
            session.receive_message(HiveMessage("hello", _HUB_HELLO).serialize(), 0.0)
            session.receive_message(HiveMessage("shake", _offer(binarize)).serialize(), 0.0)
            (request,) = session.messages_to_send()
            session.receive_message(hub.answer_for(request, cipher, encoding), 0.0)
            assert session.state is SessionState.READY, session.events()
            session.events()
            session.messages_to_send()
            _READY.append((session, hub))
    return _READY


_SEED_MESSAGES = (
    HiveMessage("bus", Message("speak", {"utterance": "hi"}, {"destination": ["x"]})),
    HiveMessage(
        "propagate",
        HiveMessage("ping", {"flood_id": "f", "peer": "p", "site_id": "s", "timestamp": 1.0}),
    ),
    HiveMessage("broadcast", HiveMessage("bus", Message("x")), target_site_id="fuzz"),
    HiveMessage("bin", b"\x00\x01\x02", bin_type=1, metadata={"file_name": "a"}),
)


def session_target(data: bytes) -> None:
    """ClientSession fed an interpreted sequence of hub frames, timers and closes.

    Invariants: receive_message/handle_timer/connection_lost never raise; send raises only
    HiveMindError; every event is a known event type whose error is a HiveMindError; a READY
    protocol v1 session is never failed by a frame (bad frames are dropped; a v3 link fails on
    purpose); after ConnectionFailed the session is CLOSED, has nothing to send and no timer.
    Offers that carry ``noise`` reach the v3 handshake (the fuzz hub's PSK is pre-cached).
    """
    reader = Reader(data)
    start = reader.byte()
    hub: _Hub
    if start & 1:
        ready = _ready_sessions()
        prepared, prepared_hub = ready[(start >> 1) % len(ready)]
        session = _copy_session(prepared)
        hub = copy.deepcopy(prepared_hub)
    else:
        session, hub = _new_session(), _Hub()
    now = 0.0
    steps = 0
    sent: list[str | bytes] = []  # what the session wrote, as the hub would read it
    while reader.remaining and steps < 64:
        steps += 1
        was_ready = session.state is SessionState.READY
        operation = reader.byte() % 13
        now += reader.byte() / 16
        if operation == 0:
            session.receive_message(_text(reader.chunk()), now)
        elif operation == 1:
            session.receive_message(reader.chunk(), now)
        elif operation == 2 and hub.key is not None:
            session.receive_message(hub.seal_text(reader.chunk()), now)
        elif operation == 3 and hub.key is not None:
            session.receive_message(hub.seal_blob(reader.chunk()), now)
        elif operation == 4:
            session.receive_message(HiveMessage("hello", _HUB_HELLO).serialize(), now)
        elif operation == 5:
            offer = _offer(bool(reader.byte() & 1))
            offer.update(_json_object(reader.chunk()))
            session.receive_message(_shake(offer), now)
        elif operation == 6:
            pending = [m for m in sent if isinstance(m, str) and '"envelope"' in m]
            if pending and session.state is SessionState.AWAITING_HANDSHAKE:
                cipher = reader.choice([c.value for c in Cipher])
                encoding = reader.choice([e.value for e in ENCODINGS])
                session.receive_message(hub.answer_for(pending[-1], cipher, encoding), now)
        elif operation == 7:
            answer = {"envelope": _text(reader.chunk())}
            answer.update(_json_object(reader.chunk()))
            session.receive_message(_shake(answer), now)
        elif operation == 8:
            session.handle_timer(now)
        elif operation == 9:
            code = int.from_bytes(reader.chunk()[:2].rjust(2, b"\0"), "big")
            session.connection_lost(code or None, _text(reader.chunk()), now)
        elif operation == 10:
            with contextlib.suppress(HiveMindError):
                session.send(reader.choice(_SEED_MESSAGES))
        elif operation == 11 and hub.key is not None:
            message = reader.choice(_SEED_MESSAGES)
            if reader.byte() & 1 and message.msg_type is not HiveMessageType.BINARY:
                session.receive_message(hub.seal_text(message.serialize().encode()), now)
            else:
                session.receive_message(hub.seal_blob(encode_binary(message)), now)
        elif operation == 12:
            body = json.dumps(_json_object(reader.chunk())).encode()
            if hub.key is not None and reader.byte() & 1:
                session.receive_message(hub.seal_text(body), now)
            else:
                session.receive_message(body.decode(), now)
        sent.extend(_check_session(session, was_ready and isinstance(session.link, LegacyLink)))


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {"value": value}


def _shake(payload: dict[str, Any]) -> str:
    try:
        return json.dumps({"msg_type": "shake", "payload": payload})
    except (ValueError, TypeError):  # NaN etc. are fine for json.dumps; belt and braces
        return "{}"


def _check_session(session: ClientSession, was_ready_v1: bool) -> list[str | bytes]:
    events = session.events()
    for event in events:
        assert isinstance(event, _EVENT_TYPES), f"unknown event {event!r}"
        if isinstance(event, ConnectionFailed | MessageDropped):
            assert isinstance(event.error, HiveMindError)
        if isinstance(event, ConnectionFailed):
            assert session.state is SessionState.CLOSED
            assert not was_ready_v1, "a frame failed a READY protocol v1 session"
        if isinstance(event, MessageReceived):
            assert isinstance(event.message, HiveMessage)
    outgoing = session.messages_to_send()
    if session.state is SessionState.CLOSED:
        assert outgoing == [] and session.next_timer() is None
    if session.state is SessionState.READY:
        assert session.next_timer() is None
    deadline = session.next_timer()
    assert deadline is None or math.isfinite(deadline)
    # a CLOSED session stays closed
    if session.state is SessionState.CLOSED:
        session.receive_message("{}", 0.0)
        assert session.events() == []
    return outgoing


TARGETS: dict[str, Callable[[bytes], None]] = {
    "decode_frame": decode_frame_target,
    "decode_json": decode_json_target,
    "decode_text": decode_text_target,
    "crypto": crypto_target,
    "handshake": handshake_target,
    "session": session_target,
}
"""Target name (also the corpus directory name) to function."""
