"""Oracle script: replay `noise` send/receive vectors through the reference client's framing.

Runs under .venvs/ref-1.2 (hivemind_bus_client 1.2.x, which ships noiseprotocol), never the
project's interpreter, and imports nothing from hivemind_client. Reads vector files named on
the command line and prints one JSON line per send/receive vector:

    {"id": ..., "messages_hex": [...]}                      (send: the reference's chunks)
    {"id": ..., "completed": [...]} or {"id": ..., "rejected": "<exception name>"}   (receive)

The handshake is run with noiseprotocol and the vector's fixed keys; hivemind_bus_client's
NoiseTransport then frames and reassembles exactly as the hub does (hivemind-core 5.x imports
this same class).
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hivemind_bus_client.noise import NoiseTransport
from noise.connection import Keypair, NoiseConnection

warnings.filterwarnings("ignore", message="One of ephemeral keypairs is already set")


class _Finished:
    """The slice of poorman_handshake's NoiseHandShake that NoiseTransport uses."""

    def __init__(self, connection: NoiseConnection) -> None:
        self._connection = connection
        self.handshake_finished = True
        self.remote_pubkey = None
        self.handshake_hash = connection.get_handshake_hash()

    def encrypt(self, data: bytes) -> bytes:
        return bytes(self._connection.encrypt(bytes(data)))

    def decrypt(self, data: bytes) -> bytes:
        return bytes(self._connection.decrypt(bytes(data)))


def _public(private: bytes) -> bytes:
    return (
        X25519PrivateKey.from_private_bytes(private)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _connections(vector: dict[str, Any]) -> dict[str, NoiseConnection]:
    name = vector["protocol_name"]
    sides = {}
    for role, other in (("initiator", "responder"), ("responder", "initiator")):
        connection = NoiseConnection.from_name(name.encode())
        connection.set_keypair_from_private_bytes(
            Keypair.STATIC, bytes.fromhex(vector[f"{role}_static_hex"])
        )
        connection.set_keypair_from_private_bytes(
            Keypair.EPHEMERAL, bytes.fromhex(vector[f"{role}_ephemeral_hex"])
        )
        if name.split("_")[1].startswith("KK"):
            connection.set_keypair_from_public_bytes(
                Keypair.REMOTE_STATIC, _public(bytes.fromhex(vector[f"{other}_static_hex"]))
            )
        connection.set_psks(bytes.fromhex(vector["psk_hex"]))
        connection.set_prologue(bytes.fromhex(vector["prologue_hex"]))
        if role == "initiator":
            connection.set_as_initiator()
        else:
            connection.set_as_responder()
        connection.start_handshake()
        sides[role] = connection
    order = ("initiator", "responder")
    for index, payload in enumerate(vector["handshake_payloads_hex"]):
        message = sides[order[index % 2]].write_message(bytes.fromhex(payload))
        sides[order[1 - index % 2]].read_message(bytes(message))
    return sides


def _replay(vector: dict[str, Any]) -> dict[str, Any]:
    sides = _connections(vector)
    if vector["kind"] == "send":
        transport = NoiseTransport(_Finished(sides[vector["sender"]]))
        body = bytes.fromhex(vector["body_hex"])
        sent: list[bytes] = []
        transport.send_message(body if vector["binary"] else body.decode("utf-8"), sent.append)
        return {"id": vector["id"], "messages_hex": [m.hex() for m in sent]}
    transport = NoiseTransport(
        _Finished(sides[vector["receiver"]]),
        max_reassembly_bytes=vector.get("max_reassembly", 32 * 1024 * 1024),
    )
    completed = []
    try:
        for message in vector["messages_hex"]:
            result = transport.decrypt_frame(bytes.fromhex(message))
            if isinstance(result, str):
                completed.append({"binary": False, "body_hex": result.encode("utf-8").hex()})
            elif result is not None:
                completed.append({"binary": True, "body_hex": bytes(result).hex()})
    except Exception as exc:  # any rejection counts; the codes are ours to choose
        return {"id": vector["id"], "rejected": type(exc).__name__}
    return {"id": vector["id"], "completed": completed}


def main(paths: list[str]) -> int:
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        for vector in document["vectors"]:
            if vector.get("kind") in ("send", "receive"):
                print(json.dumps(_replay(vector)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
