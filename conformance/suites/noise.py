"""The ``noise`` suite: protocol v3 handshakes, PSK derivation and transport framing.

Vector kinds (see conformance/generators/noise.py): ``handshake``, ``open``, ``psk``,
``send`` and ``receive``. Every check goes through ``impl.call`` only.
"""

from __future__ import annotations

from typing import Any

from ..impl import Implementation, VectorFailed, expect_error

__all__ = ["SUITES"]

_SESSION_FIELDS = (
    "protocol_name",
    "prologue_hex",
    "psk_hex",
    "initiator_static_hex",
    "initiator_ephemeral_hex",
    "responder_static_hex",
    "responder_ephemeral_hex",
    "handshake_payloads_hex",
)
_OPEN_FIELDS = (
    "protocol_name",
    "role",
    "prologue_hex",
    "psk_hex",
    "static_hex",
    "ephemeral_hex",
    "remote_static_hex",
    "handshake_payloads_hex",
    "handshake_messages_hex",
    "transport_in_hex",
)


def _pick(vector: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: vector[name] for name in names if name in vector}


def _same(what: str, have: object, want: object) -> None:
    if have != want:
        raise VectorFailed(f"{what}: got {_short(have)}, expected {_short(want)}")


def check_handshake(vector: dict[str, Any], impl: Implementation) -> None:
    """The prologue (when built from payloads), the messages, the hash, the transport."""
    if "hello_payload" in vector:
        prologue = impl.call(
            "noise_prologue",
            {
                "hello_payload": vector["hello_payload"],
                "handshake_payload": vector["handshake_payload"],
                "protocol_name": vector["protocol_name"],
            },
        )["prologue_hex"]
        _same("prologue", prologue, vector["prologue_hex"])
    transport = vector.get("transport", [])
    inputs = _pick(vector, _SESSION_FIELDS)
    inputs["transport"] = [
        {"sender": item["sender"], "payload_hex": item["payload_hex"]} for item in transport
    ]
    outputs = impl.call("noise_handshake", inputs)
    want_messages = vector["handshake_messages_hex"]
    have_messages = outputs["handshake_messages_hex"]
    _same("handshake message count", len(have_messages), len(want_messages))
    for index, (have, want) in enumerate(zip(have_messages, want_messages, strict=True)):
        _same(f"handshake message {index + 1}", have, want)
    _same("handshake hash", outputs["handshake_hash_hex"], vector["handshake_hash_hex"])
    for index, (have, item) in enumerate(
        zip(outputs["transport_messages_hex"], transport, strict=True)
    ):
        _same(f"transport message {index + 1} ({item['sender']})", have, item["message_hex"])


def check_open(vector: dict[str, Any], impl: Implementation) -> None:
    """One side of a transcript: opens the transport messages, or fails with ``error``."""
    inputs = _pick(vector, _OPEN_FIELDS)
    if "error" in vector:
        expect_error(impl, "noise_open", inputs, vector["error"])
        return
    outputs = impl.call("noise_open", inputs)
    _same("opened payloads", outputs["transport_payloads_hex"], vector["transport_payloads_hex"])


def check_psk(vector: dict[str, Any], impl: Implementation) -> None:
    """argon2id PSK from password and the hub's node_id."""
    outputs = impl.call("noise_psk", {"password": vector["password"], "node_id": vector["node_id"]})
    _same("psk", outputs["psk_hex"], vector["psk_hex"])


def check_send(vector: dict[str, Any], impl: Implementation) -> None:
    """Framing one message gives exactly the vector's Noise messages; they open again."""
    inputs = _pick(vector, _SESSION_FIELDS)
    inputs.update(sender=vector["sender"], binary=vector["binary"], body_hex=vector["body_hex"])
    outputs = impl.call("noise_send", inputs)
    have, want = outputs["messages_hex"], vector["messages_hex"]
    _same("message count", len(have), len(want))
    for index, (one, other) in enumerate(zip(have, want, strict=True)):
        if one != other:
            raise VectorFailed(
                f"message {index + 1} differs ({len(one) // 2} vs {len(other) // 2} bytes)"
            )
    receiver = "responder" if vector["sender"] == "initiator" else "initiator"
    receive = _pick(vector, _SESSION_FIELDS)
    receive.update(receiver=receiver, messages_hex=want)
    completed = impl.call("noise_receive", receive)["completed"]
    _same(
        "reassembled",
        completed,
        [{"binary": vector["binary"], "body_hex": vector["body_hex"]}],
    )


def check_receive(vector: dict[str, Any], impl: Implementation) -> None:
    """Opening a message sequence completes the vector's messages, or fails with ``error``."""
    inputs = _pick(vector, _SESSION_FIELDS)
    inputs.update(receiver=vector["receiver"], messages_hex=vector["messages_hex"])
    if "max_reassembly" in vector:
        inputs["max_reassembly"] = vector["max_reassembly"]
    if "error" in vector:
        expect_error(impl, "noise_receive", inputs, vector["error"])
        return
    _same("completed", impl.call("noise_receive", inputs)["completed"], vector["completed"])


_KINDS = {
    "handshake": check_handshake,
    "open": check_open,
    "psk": check_psk,
    "send": check_send,
    "receive": check_receive,
}


def check(vector: dict[str, Any], impl: Implementation) -> None:
    """Dispatch on the vector's ``kind``."""
    checker = _KINDS.get(vector.get("kind", ""))
    if checker is None:
        raise VectorFailed(f"unknown noise vector kind {vector.get('kind')!r}")
    checker(vector, impl)


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


SUITES = {"noise": check}
