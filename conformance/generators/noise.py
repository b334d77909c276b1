# oracle: noiseprotocol
"""Generate the `noise` conformance vectors with the `noiseprotocol` package (an oracle).

Run it with the ORACLE interpreter, never the project's (``python -m conformance generate``
does; by hand, after ``python3 scripts/oracles.py ensure noiseprotocol``, which installs
noiseprotocol==0.3.1 and argon2-cffi==25.1.0 into .venvs/noiseprotocol):

    .venvs/noiseprotocol/bin/python conformance/generators/noise.py conformance/vectors

It writes OUTDIR/noise.json (handshakes, PSK derivations, negative cases, v3 framing) and
OUTDIR/noise-chunked.json (messages split over several Noise transport messages), format
``hivemind-conformance/1``, suite ``noise``.

Every Noise byte comes from noiseprotocol 0.3.1 (the engine hivemind-core 5.x runs through
poorman_handshake), every PSK from argon2-cffi with the parameters of poorman_handshake 2.x
``derive_psk``. The HiveMind parts are written out here from what hivemind-core 5.3.10a1 does:
prologue = canonical JSON of the hub's HELLO payload, of its HANDSHAKE offer, then the protocol
name; transport plaintext = marker byte + body, 65000-byte chunks. Keys are fixed (SHA-256 of a
label), so the output is byte-identical on every run. Only the standard library, noise, argon2
and cryptography (a dependency of noise) are imported: never hivemind_client.

Vector kinds (field ``kind``):
- ``handshake``: both sides with fixed keys; ``handshake_messages_hex``, ``handshake_hash_hex``
  and the first transport messages (``transport``) must come out byte for byte. HiveMind
  vectors also carry ``hello_payload`` and ``handshake_payload`` from which the prologue is built.
- ``open``: one side (``role``) runs its part of a transcript and opens ``transport_in_hex``;
  negative vectors fail with ``error`` (wrong PSK, tampered prologue, replay, ...).
- ``psk``: ``password`` + ``node_id`` -> ``psk_hex``.
- ``send`` / ``receive``: v3 framing over an established session (marker bytes, chunking,
  reassembly); ``receive`` negatives fail with ``error``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from _vectorfile import write_vector_file

# This file is named noise.py: keep its directory from shadowing the noiseprotocol package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402
from noise.connection import Keypair, NoiseConnection  # noqa: E402

# noiseprotocol warns whenever an ephemeral key is fixed: that is the point here.
warnings.filterwarnings("ignore", message="One of ephemeral keypairs is already set")

FORMAT = "hivemind-conformance/1"
CHUNK_SIZE = 65000
MARKER_JSON, MARKER_BINARY, MARKER_FIRST_JSON, MARKER_FIRST_BINARY, MARKER_MIDDLE, MARKER_LAST = (
    range(6)
)
CHACHA, AESGCM = "25519_ChaChaPoly_SHA256", "25519_AESGCM_SHA256"


def key(label: str) -> bytes:
    """A fixed 32-byte private key or PSK."""
    return hashlib.sha256(f"hivemind-client conformance noise {label}".encode()).digest()


def public(private: bytes) -> bytes:
    return (
        X25519PrivateKey.from_private_bytes(private)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def canonical_json(value: Any) -> bytes:
    """What hivemind-core binds into the prologue (sorted keys, compact, UTF-8 as is)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def derive_psk(password: str, node_id: str) -> bytes:
    """poorman_handshake 2.x derive_psk: argon2id, salt = SHA-256(node_id), t=3, 64 MiB, p=1."""
    return hash_secret_raw(
        secret=password.encode(),
        salt=hashlib.sha256(node_id.encode()).digest(),
        time_cost=3,
        memory_cost=64 * 1024,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
        version=ARGON2_VERSION,
    )


# A hub HELLO and offer shaped like hivemind-core 5.3.10a1's (node_id = the hub's RSA PEM);
# the peer name carries non-ASCII text to pin down ensure_ascii=False.
HUB_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAconformancevectorsonly\n"
    "-----END PUBLIC KEY-----"
)
HELLO = {
    "pubkey": HUB_PEM,
    "peer": "satélite-cozinha::1::conformance::b7e0c1d2",
    "node_id": HUB_PEM,
}


def offer(patterns: list[str]) -> dict[str, Any]:
    return {
        "max_protocol_version": 3,
        "binarize": False,
        "encodings": ["JSON-B64", "JSON-HEX"],
        "ciphers": ["AES-GCM"],
        "noise": {"patterns": patterns, "suites": [CHACHA, AESGCM]},
    }


MSG1_PAYLOAD = canonical_json({"binarize": False, "encodings": ["JSON-B64", "JSON-HEX"]})
MSG2_PAYLOAD = json.dumps({"encoding": "JSON-B64"}).encode()  # the hub's default separators
CLIENT_HELLO = json.dumps(
    {
        "msg_type": "hello",
        "payload": {
            "pubkey": "client-rsa-pem",
            "session": {"session_id": "default"},
            "site_id": "kitchen",
        },
    }
)
HUB_BUS = json.dumps(
    {"msg_type": "bus", "payload": {"type": "speak", "data": {"utterance": "olá"}, "context": {}}},
    ensure_ascii=False,
)
BINARY_FRAME = bytes.fromhex("098027b7d10102")  # a BINARY RAW_AUDIO frame (docs/protocol.md section 4)


class Side:
    """One noiseprotocol connection with fixed keys."""

    def __init__(self, name: str, initiator: bool, keys: dict[str, Any]) -> None:
        role = "initiator" if initiator else "responder"
        other = "responder" if initiator else "initiator"
        self.connection = NoiseConnection.from_name(name.encode())
        if keys.get(f"{role}_static") is not None:
            self.connection.set_keypair_from_private_bytes(Keypair.STATIC, keys[f"{role}_static"])
        self.connection.set_keypair_from_private_bytes(Keypair.EPHEMERAL, keys[f"{role}_ephemeral"])
        if "_KK" in name:
            self.connection.set_keypair_from_public_bytes(
                Keypair.REMOTE_STATIC, public(keys[f"{other}_static"])
            )
        psk = keys.get(f"{role}_psk", keys.get("psk"))
        if psk is not None:
            self.connection.set_psks(psk)
        self.connection.set_prologue(keys.get(f"{role}_prologue", keys["prologue"]))
        if initiator:
            self.connection.set_as_initiator()
        else:
            self.connection.set_as_responder()
        self.connection.start_handshake()


def handshake(
    name: str, keys: dict[str, Any], payloads: list[bytes]
) -> tuple[Side, Side, list[bytes]]:
    """Run both sides; the messages in order (initiator first, alternating)."""
    initiator, responder = Side(name, True, keys), Side(name, False, keys)
    messages = []
    for index, payload in enumerate(payloads):
        writer, reader = (initiator, responder) if index % 2 == 0 else (responder, initiator)
        message = bytes(writer.connection.write_message(payload))
        assert bytes(reader.connection.read_message(message)) == payload
        messages.append(message)
    assert initiator.connection.handshake_finished and responder.connection.handshake_finished
    return initiator, responder, messages


def key_fields(keys: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"prologue_hex": keys["prologue"].hex()}
    if keys.get("psk") is not None:
        fields["psk_hex"] = keys["psk"].hex()
    for name in (
        "initiator_static",
        "initiator_ephemeral",
        "responder_static",
        "responder_ephemeral",
    ):
        if keys.get(name) is not None:
            fields[f"{name}_hex"] = keys[name].hex()
    return fields


def base_keys(label: str, prologue: bytes, psk: bool, statics: bool = True) -> dict[str, Any]:
    return {
        "prologue": prologue,
        "psk": key(f"{label} psk") if psk else None,
        "initiator_static": key(f"{label} initiator static") if statics else None,
        "initiator_ephemeral": key(f"{label} initiator ephemeral"),
        "responder_static": key(f"{label} responder static") if statics else None,
        "responder_ephemeral": key(f"{label} responder ephemeral"),
    }


def hivemind_case(
    pattern: str, suite: str
) -> tuple[str, dict[str, Any], list[bytes], dict[str, Any]]:
    name = f"Noise_{pattern}_{suite}"
    hub_offer = offer(["KKpsk0", "XXpsk2"] if pattern == "KKpsk0" else ["XXpsk2"])
    prologue = canonical_json(HELLO) + canonical_json(hub_offer) + name.encode()
    keys = base_keys(f"hivemind {pattern} {suite}", prologue, psk=True)
    payloads = [MSG1_PAYLOAD, MSG2_PAYLOAD] + ([b""] if pattern == "XXpsk2" else [])
    return name, keys, payloads, hub_offer


def handshake_vectors() -> list[dict[str, Any]]:
    vectors = []
    for pattern in ("XXpsk2", "KKpsk0"):
        for suite in (CHACHA, AESGCM):
            name, keys, payloads, hub_offer = hivemind_case(pattern, suite)
            initiator, responder, messages = handshake(name, keys, payloads)
            transport = [
                ("initiator", bytes([MARKER_JSON]) + CLIENT_HELLO.encode()),
                ("initiator", bytes([MARKER_BINARY]) + BINARY_FRAME),
                ("responder", bytes([MARKER_JSON]) + HUB_BUS.encode()),
                ("responder", bytes([MARKER_JSON]) + b"{}"),
            ]
            vectors.append(
                {
                    "id": f"hivemind-{pattern}-{suite}",
                    "kind": "handshake",
                    "protocol_name": name,
                    "hello_payload": HELLO,
                    "handshake_payload": hub_offer,
                    **key_fields(keys),
                    "handshake_payloads_hex": [p.hex() for p in payloads],
                    "handshake_messages_hex": [m.hex() for m in messages],
                    "handshake_hash_hex": bytes(initiator.connection.get_handshake_hash()).hex(),
                    "transport": transport_fields(initiator, responder, transport),
                    "note": "v3 client (initiator) and hub (responder); prologue from hello_payload and handshake_payload",
                }
            )
    prologue = b"hivemind-client conformance"
    for pattern, statics in (("NN", False), ("XX", True), ("KK", True)):
        for suite in (CHACHA, AESGCM):
            name = f"Noise_{pattern}_{suite}"
            keys = base_keys(f"plain {pattern} {suite}", prologue, psk=False, statics=statics)
            payloads = [
                hashlib.sha256(f"{name} payload {i}".encode()).digest()[: 7 + 9 * i]
                for i in range(len(pattern_messages(pattern)))
            ]
            initiator, responder, messages = handshake(name, keys, payloads)
            transport = [
                ("initiator", b"transport from the initiator"),
                ("responder", b""),
                ("responder", bytes(range(256))),
            ]
            vectors.append(
                {
                    "id": f"plain-{pattern}-{suite}",
                    "kind": "handshake",
                    "protocol_name": name,
                    **key_fields(keys),
                    "handshake_payloads_hex": [p.hex() for p in payloads],
                    "handshake_messages_hex": [m.hex() for m in messages],
                    "handshake_hash_hex": bytes(initiator.connection.get_handshake_hash()).hex(),
                    "transport": transport_fields(initiator, responder, transport),
                }
            )
    return vectors


def pattern_messages(pattern: str) -> list[str]:
    return {"NN": ["e", "e ee"], "XX": ["e", "e ee s es", "s se"], "KK": ["e es ss", "e ee se"]}[
        pattern
    ]


def transport_fields(
    initiator: Side, responder: Side, transport: list[tuple[str, bytes]]
) -> list[dict[str, str]]:
    out = []
    for sender, payload in transport:
        writer, reader = (initiator, responder) if sender == "initiator" else (responder, initiator)
        message = writer.connection.encrypt(payload)
        assert reader.connection.decrypt(message) == payload
        out.append({"sender": sender, "payload_hex": payload.hex(), "message_hex": message.hex()})
    return out


def open_fields(
    name: str, keys: dict[str, Any], role: str, payloads: list[bytes], messages: list[bytes]
) -> dict[str, Any]:
    """What one side needs to run its part of a transcript."""
    other = "responder" if role == "initiator" else "initiator"
    fields: dict[str, Any] = {
        "protocol_name": name,
        "role": role,
        "prologue_hex": keys.get(f"{role}_prologue", keys["prologue"]).hex(),
        "static_hex": keys[f"{role}_static"].hex(),
        "ephemeral_hex": keys[f"{role}_ephemeral"].hex(),
        "handshake_payloads_hex": [p.hex() for p in payloads],
        "handshake_messages_hex": [m.hex() for m in messages],
    }
    psk = keys.get(f"{role}_psk", keys.get("psk"))
    if psk is not None:
        fields["psk_hex"] = psk.hex()
    if "_KK" in name:
        fields["remote_static_hex"] = public(keys[f"{other}_static"]).hex()
    return fields


def open_vectors() -> list[dict[str, Any]]:
    vectors = []
    name, keys, payloads, hub_offer = hivemind_case("XXpsk2", CHACHA)

    # A positive one first, so a runner shows the negative ones fail for the stated reason.
    initiator, responder, messages = handshake(name, keys, payloads)
    sent = [
        initiator.connection.encrypt(bytes([MARKER_JSON]) + f'{{"n": {i}}}'.encode())
        for i in range(3)
    ]
    vectors.append(
        {
            "id": "open-xxpsk2-responder",
            "kind": "open",
            **open_fields(name, keys, "responder", payloads, messages),
            "transport_in_hex": [m.hex() for m in sent],
            "transport_payloads_hex": [
                (bytes([MARKER_JSON]) + f'{{"n": {i}}}'.encode()).hex() for i in range(3)
            ],
        }
    )
    for vector_id, order, note in (
        ("replayed-transport", [0, 1, 1], "the second message arrives twice"),
        ("reordered-transport", [1, 0], "messages 2 and 1 swapped"),
        ("skipped-transport", [0, 2], "message 2 lost: message 3 is read at nonce 1"),
    ):
        vectors.append(
            {
                "id": vector_id,
                "kind": "open",
                **open_fields(name, keys, "responder", payloads, messages),
                "transport_in_hex": [sent[i].hex() for i in order],
                "error": "authentication-failed",
                "note": note,
            }
        )
    tampered = bytearray(sent[0])
    tampered[5] ^= 0x40
    vectors.append(
        {
            "id": "tampered-transport",
            "kind": "open",
            **open_fields(name, keys, "responder", payloads, messages),
            "transport_in_hex": [bytes(tampered).hex()],
            "error": "authentication-failed",
            "note": "one ciphertext bit flipped",
        }
    )

    # Wrong password: the hub's message 2 was made with another PSK (XXpsk2 mixes it there).
    wrong = dict(keys, responder_psk=derive_psk("not-the-password", HUB_PEM))
    _, _, bad_messages = handshake_until_failure(name, wrong, payloads)
    vectors.append(
        {
            "id": "wrong-psk-xxpsk2",
            "kind": "open",
            **open_fields(name, keys, "initiator", payloads, bad_messages),
            "error": "authentication-failed",
            "note": "the hub (responder) used a PSK derived from another password; message 2 fails",
        }
    )
    kk_name, kk_keys, kk_payloads, _ = hivemind_case("KKpsk0", CHACHA)
    kk_wrong = dict(kk_keys, initiator_psk=key("some other psk"))
    _, _, kk_bad = handshake_until_failure(kk_name, kk_wrong, kk_payloads)
    vectors.append(
        {
            "id": "wrong-psk-kkpsk0",
            "kind": "open",
            **open_fields(kk_name, kk_keys, "responder", kk_payloads, kk_bad),
            "error": "authentication-failed",
            "note": "the client used another PSK; KKpsk0 mixes it first, so message 1 fails at the hub",
        }
    )

    # Tampered negotiation: a man in the middle removed AESGCM from the offer the client saw.
    downgraded = offer(["XXpsk2"])
    downgraded["noise"]["suites"] = [CHACHA]
    tampered_keys = dict(
        keys, initiator_prologue=canonical_json(HELLO) + canonical_json(downgraded) + name.encode()
    )
    _, _, tampered_messages = handshake_until_failure(name, tampered_keys, payloads)
    vectors.append(
        {
            "id": "tampered-prologue",
            "kind": "open",
            **open_fields(name, keys, "responder", payloads, tampered_messages),
            "error": "authentication-failed",
            "note": "the client's prologue was built from an offer whose suites list was altered; the hub fails on message 1",
        }
    )

    truncated = [messages[0], messages[1][:40]]
    vectors.append(
        {
            "id": "truncated-handshake-message",
            "kind": "open",
            **open_fields(name, keys, "initiator", payloads, truncated),
            "error": "handshake-failed",
            "note": "message 2 cut to 40 bytes: too short for the hub's ephemeral and encrypted static key",
        }
    )
    return vectors


def handshake_until_failure(
    name: str, keys: dict[str, Any], payloads: list[bytes]
) -> tuple[Side, Side, list[bytes]]:
    """Like handshake(), but keeps going after the reader rejects: the transcript as written."""
    initiator, responder = Side(name, True, keys), Side(name, False, keys)
    messages: list[bytes] = []
    for index, payload in enumerate(payloads):
        writer, reader = (initiator, responder) if index % 2 == 0 else (responder, initiator)
        message = bytes(writer.connection.write_message(payload))
        messages.append(message)
        try:
            reader.connection.read_message(message)
        except Exception:
            return initiator, responder, messages
    raise AssertionError(f"{name}: expected the handshake to fail")


def psk_vectors() -> list[dict[str, Any]]:
    cases = [
        ("psk-ascii-node-id", "test-password-123", "tcp4:0.0.0.0:5678"),
        ("psk-pem-node-id", "correct horse battery staple", HUB_PEM),
        ("psk-unicode-password", "pässwörd-ünïcødé-🐝", "master:0.0.0.0"),
        ("psk-empty-node-id", "hunter2-but-longer", ""),
    ]
    return [
        {
            "id": vid,
            "kind": "psk",
            "password": password,
            "node_id": node_id,
            "psk_hex": derive_psk(password, node_id).hex(),
        }
        for vid, password, node_id in cases
    ]


def session_fields(name: str, keys: dict[str, Any], payloads: list[bytes]) -> dict[str, Any]:
    return {
        "protocol_name": name,
        **key_fields(keys),
        "handshake_payloads_hex": [p.hex() for p in payloads],
    }


def chunk(body: bytes, single: int, first: int) -> list[bytes]:
    """The v3 framing of one message (as hivemind_bus_client 1.2 NoiseTransport sends it)."""
    if len(body) <= CHUNK_SIZE:
        return [bytes([single]) + body]
    pieces = []
    for offset in range(0, len(body), CHUNK_SIZE):
        marker = (
            first
            if offset == 0
            else MARKER_LAST
            if offset + CHUNK_SIZE >= len(body)
            else MARKER_MIDDLE
        )
        pieces.append(bytes([marker]) + body[offset : offset + CHUNK_SIZE])
    return pieces


def framing_vectors() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    name, keys, payloads, _ = hivemind_case("XXpsk2", CHACHA)
    small: list[dict[str, Any]] = []
    large: list[dict[str, Any]] = []

    def send_vector(
        vid: str, sender: str, binary: bool, body: bytes, into: list[dict[str, Any]]
    ) -> None:
        initiator, responder, _ = handshake(name, keys, payloads)
        writer, reader = (initiator, responder) if sender == "initiator" else (responder, initiator)
        single, first = (
            (MARKER_BINARY, MARKER_FIRST_BINARY) if binary else (MARKER_JSON, MARKER_FIRST_JSON)
        )
        messages = [writer.connection.encrypt(p) for p in chunk(body, single, first)]
        for message, plain in zip(messages, chunk(body, single, first), strict=True):
            assert reader.connection.decrypt(message) == plain
        into.append(
            {
                "id": vid,
                "kind": "send",
                **session_fields(name, keys, payloads),
                "sender": sender,
                "binary": binary,
                "body_hex": body.hex(),
                "messages_hex": [m.hex() for m in messages],
            }
        )

    send_vector("send-json", "initiator", False, CLIENT_HELLO.encode(), small)
    send_vector("send-binary", "responder", True, BINARY_FRAME, small)
    send_vector("send-json-exactly-one-chunk", "initiator", False, json_of_size(CHUNK_SIZE), large)
    send_vector("send-json-two-chunks", "responder", False, json_of_size(CHUNK_SIZE + 1), large)
    send_vector(
        "send-binary-three-chunks",
        "initiator",
        True,
        (hashlib.sha256(b"audio").digest() * 4100)[: 2 * CHUNK_SIZE + 17],
        large,
    )

    def receive_vector(
        vid: str, plaintexts: list[bytes], *, error: str | None = None, note: str = "", **extra: Any
    ) -> None:
        initiator, responder, _ = handshake(name, keys, payloads)
        vector: dict[str, Any] = {
            "id": vid,
            "kind": "receive",
            **session_fields(name, keys, payloads),
            "receiver": "responder",
            "messages_hex": [initiator.connection.encrypt(p).hex() for p in plaintexts],
            **extra,
        }
        if error is None:
            vector["completed"] = completed(plaintexts)
        else:
            vector["error"] = error
        if note:
            vector["note"] = note
        small.append(vector)

    J = bytes([MARKER_JSON])
    receive_vector(
        "receive-small-chunks",
        [
            bytes([MARKER_FIRST_JSON]) + b'{"msg_type": ',
            bytes([MARKER_MIDDLE]),
            bytes([MARKER_LAST]) + b'"bus"}',
            J + b"{}",
        ],
        note="chunks need not be 65000 bytes; an empty middle chunk is fine",
    )
    receive_vector(
        "receive-binary-chunks-then-json",
        [
            bytes([MARKER_FIRST_BINARY]) + b"\x09\x80",
            bytes([MARKER_LAST]) + b"\x27\xb7\xd1\x01\x02",
            J + b'{"a": 1}',
        ],
    )
    receive_vector("last-without-first", [bytes([MARKER_LAST]) + b"x"], error="invalid-payload")
    receive_vector("middle-without-first", [bytes([MARKER_MIDDLE]) + b"x"], error="invalid-payload")
    receive_vector(
        "whole-message-inside-chunked",
        [bytes([MARKER_FIRST_JSON]) + b"{", J + b"{}"],
        error="invalid-payload",
        note="the hub closes 1008: a single-frame message while a chunked one is open",
    )
    receive_vector(
        "first-inside-chunked",
        [bytes([MARKER_FIRST_JSON]) + b"{", bytes([MARKER_FIRST_BINARY]) + b"\x00"],
        error="invalid-payload",
    )
    receive_vector("unknown-marker", [b"\x06{}"], error="invalid-payload")
    receive_vector("empty-plaintext", [b""], error="invalid-payload", note="no marker byte at all")
    receive_vector(
        "reassembly-cap",
        [bytes([MARKER_FIRST_BINARY]) + b"a" * 60, bytes([MARKER_LAST]) + b"b" * 41],
        error="payload-too-large",
        max_reassembly=100,
        note="101 bytes buffered with a 100-byte cap",
    )
    receive_vector(
        "reassembly-at-cap",
        [bytes([MARKER_FIRST_BINARY]) + b"a" * 60, bytes([MARKER_LAST]) + b"b" * 40],
        max_reassembly=100,
        note="exactly the cap is accepted",
    )
    receive_vector("json-not-utf8", [J + b'{"a": "\xff"}'], error="invalid-json")
    return small, large


def completed(plaintexts: list[bytes]) -> list[dict[str, Any]]:
    out, buffer, binary = [], bytearray(), False
    for plain in plaintexts:
        marker, body = plain[0], plain[1:]
        if marker in (MARKER_JSON, MARKER_BINARY):
            out.append({"binary": marker == MARKER_BINARY, "body_hex": body.hex()})
        elif marker in (MARKER_FIRST_JSON, MARKER_FIRST_BINARY):
            buffer, binary = bytearray(body), marker == MARKER_FIRST_BINARY
        elif marker == MARKER_MIDDLE:
            buffer += body
        else:
            buffer += body
            out.append({"binary": binary, "body_hex": bytes(buffer).hex()})
    return out


def json_of_size(size: int) -> bytes:
    head = b'{"msg_type": "bus", "payload": {"type": "speak", "data": {"utterance": "'
    tail = b'"}, "context": {}}}'
    return (
        head
        + b"la" * ((size - len(head) - len(tail)) // 2)
        + b"l" * ((size - len(head) - len(tail)) % 2)
        + tail
    )


def write(path: Path, vectors: list[dict[str, Any]]) -> None:
    versions = ", ".join(
        f"{package} {importlib_metadata.version(package)}"
        for package in ("noiseprotocol", "argon2-cffi")
    )
    write_vector_file(path, "noise", f"conformance/generators/noise.py with {versions}", vectors)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = Path(argv[0])
    outdir.mkdir(parents=True, exist_ok=True)
    small, large = framing_vectors()
    write(outdir / "noise.json", handshake_vectors() + open_vectors() + psk_vectors() + small)
    write(outdir / "noise-chunked.json", large)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
