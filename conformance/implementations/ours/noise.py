"""Conformance operations of the ``noise`` suite, answered by hivemind_client.security.noise(_session).

Inputs and outputs are the vector fields (hex strings, JSON objects); a HiveMindError raised
here propagates, and the caller turns it into its code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hivemind_client.errors import InvalidArgument
from hivemind_client.security.hivemind_noise import (
    DEFAULT_MAX_REASSEMBLY,
    NoiseTransport,
    build_prologue,
    derive_psk,
)
from hivemind_client.security.noise import HandshakeState, TransportCiphers, x25519_public_key

__all__ = ["OPERATIONS"]

_ROLES = ("initiator", "responder")


def _hex(inputs: dict[str, Any], name: str) -> bytes | None:
    value = inputs.get(name)
    return None if value is None else bytes.fromhex(value)


def _side(inputs: dict[str, Any], role: str) -> HandshakeState:
    """One side built from vector fields named ``<role>_...`` (overrides) or shared ones."""
    other = "responder" if role == "initiator" else "initiator"
    name = inputs["protocol_name"]
    remote_private = _hex(inputs, f"{other}_static_hex")
    is_kk = name.split("_")[1].startswith("KK")
    psk = _hex(inputs, f"{role}_psk_hex") or _hex(inputs, "psk_hex")
    prologue = _hex(inputs, f"{role}_prologue_hex")
    return HandshakeState(
        name,
        initiator=role == "initiator",
        prologue=prologue if prologue is not None else bytes.fromhex(inputs["prologue_hex"]),
        static_private=_hex(inputs, f"{role}_static_hex"),
        ephemeral_private=_hex(inputs, f"{role}_ephemeral_hex"),
        remote_static=x25519_public_key(remote_private) if is_kk and remote_private else None,
        psks=[psk] if psk is not None else [],
    )


def _handshake(
    inputs: dict[str, Any],
) -> tuple[dict[str, HandshakeState], list[bytes]]:
    sides = {role: _side(inputs, role) for role in _ROLES}
    messages = []
    for index, payload_hex in enumerate(inputs["handshake_payloads_hex"]):
        writer = sides[_ROLES[index % 2]]
        reader = sides[_ROLES[1 - index % 2]]
        message = writer.write_message(bytes.fromhex(payload_hex))
        payload = reader.read_message(message)
        if payload != bytes.fromhex(payload_hex):
            raise InvalidArgument("the reader got another payload than the writer sent")
        messages.append(message)
    return sides, messages


def noise_handshake(inputs: dict[str, Any]) -> dict[str, Any]:
    """Both sides with fixed keys -> handshake messages, hash and transport messages."""
    sides, messages = _handshake(inputs)
    hashes = {sides[role].handshake_hash for role in _ROLES}
    if len(hashes) != 1:
        raise InvalidArgument("the two sides disagree on the handshake hash")
    ciphers = {role: sides[role].split() for role in _ROLES}
    transport = []
    for item in inputs.get("transport", []):
        sender = item["sender"]
        receiver = "responder" if sender == "initiator" else "initiator"
        payload = bytes.fromhex(item["payload_hex"])
        message = ciphers[sender].send.encrypt(payload)
        if ciphers[receiver].receive.decrypt(message) != payload:
            raise InvalidArgument("a transport message did not round-trip")
        transport.append(message.hex())
    return {
        "handshake_messages_hex": [m.hex() for m in messages],
        "handshake_hash_hex": hashes.pop().hex(),
        "transport_messages_hex": transport,
    }


def noise_open(inputs: dict[str, Any]) -> dict[str, Any]:
    """One side runs its part of a transcript, then opens the incoming transport messages."""
    role = inputs["role"]
    if role not in _ROLES:
        raise InvalidArgument(f"unknown role {role!r}")
    psk = _hex(inputs, "psk_hex")
    remote = _hex(inputs, "remote_static_hex")
    state = HandshakeState(
        inputs["protocol_name"],
        initiator=role == "initiator",
        prologue=bytes.fromhex(inputs["prologue_hex"]),
        static_private=_hex(inputs, "static_hex"),
        ephemeral_private=_hex(inputs, "ephemeral_hex"),
        remote_static=remote,
        psks=[psk] if psk is not None else [],
    )
    payloads = inputs["handshake_payloads_hex"]
    transcript = inputs["handshake_messages_hex"]
    for index, payload_hex in enumerate(payloads):
        if _ROLES[index % 2] == role:
            state.write_message(bytes.fromhex(payload_hex))
        elif index < len(transcript):
            state.read_message(bytes.fromhex(transcript[index]))
        else:
            raise InvalidArgument("the transcript ends before the handshake does")
    receive = state.split().receive
    opened = [receive.decrypt(bytes.fromhex(m)).hex() for m in inputs.get("transport_in_hex", [])]
    return {"transport_payloads_hex": opened}


def noise_prologue(inputs: dict[str, Any]) -> dict[str, Any]:
    """{hello_payload, handshake_payload, protocol_name} -> {prologue_hex}."""
    prologue = build_prologue(
        inputs["hello_payload"], inputs["handshake_payload"], inputs["protocol_name"]
    )
    return {"prologue_hex": prologue.hex()}


def noise_psk(inputs: dict[str, Any]) -> dict[str, Any]:
    """{password, node_id} -> {psk_hex} (argon2id)."""
    return {"psk_hex": derive_psk(inputs["password"], inputs["node_id"]).hex()}


def _transports(inputs: dict[str, Any]) -> dict[str, NoiseTransport]:
    sides, _ = _handshake(inputs)
    cap = inputs.get("max_reassembly", DEFAULT_MAX_REASSEMBLY)
    out = {}
    for role in _ROLES:
        ciphers: TransportCiphers = sides[role].split()
        out[role] = NoiseTransport(ciphers.send, ciphers.receive, max_reassembly=cap)
    return out


def noise_send(inputs: dict[str, Any]) -> dict[str, Any]:
    """After the handshake, ``sender`` frames one message -> {messages_hex}."""
    transport = _transports(inputs)[inputs["sender"]]
    body = bytes.fromhex(inputs["body_hex"])
    if inputs["binary"]:
        messages = transport.encrypt_binary(body)
    else:
        messages = transport.encrypt_json(body.decode("utf-8"))
    return {"messages_hex": [m.hex() for m in messages]}


def noise_receive(inputs: dict[str, Any]) -> dict[str, Any]:
    """After the handshake, ``receiver`` opens messages -> {completed: [{binary, body_hex}]}."""
    transport = _transports(inputs)[inputs["receiver"]]
    completed = []
    for message_hex in inputs["messages_hex"]:
        result = transport.decrypt(bytes.fromhex(message_hex))
        if isinstance(result, str):
            completed.append({"binary": False, "body_hex": result.encode("utf-8").hex()})
        elif result is not None:
            completed.append({"binary": True, "body_hex": result.hex()})
    return {"completed": completed}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "noise_handshake": noise_handshake,
    "noise_open": noise_open,
    "noise_prologue": noise_prologue,
    "noise_psk": noise_psk,
    "noise_send": noise_send,
    "noise_receive": noise_receive,
}
