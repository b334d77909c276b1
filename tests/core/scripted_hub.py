"""A scripted hub for sans-I/O session tests: the hub half of the v1 password handshake."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hivemind_client.core.session import ClientSession
from hivemind_client.security.aead import open_binary, open_json, seal_binary, seal_json
from hivemind_client.security.legacy_handshake import PBKDF2_ITERATIONS, PasswordHandshake
from hivemind_client.wire.codec import decode_binary, decode_json
from hivemind_client.wire.message import HiveMessage


class ScriptedHub:
    """Speaks the hub's side to one ClientSession, as hivemind-core 4.0 does."""

    def __init__(
        self,
        password: str = "hub-password",
        *,
        binarize: bool = False,
        encodings: tuple[str, ...] = ("JSON-B64", "JSON-HEX"),
        ciphers: tuple[str, ...] = ("AES-GCM", "CHACHA20-POLY1305"),
        min_protocol_version: int = 0,
    ) -> None:
        self.password = password
        self.binarize = binarize
        self.encodings = encodings
        self.ciphers = ciphers
        self.min_protocol_version = min_protocol_version
        self.key: bytes | None = None
        self.cipher = self.encoding = ""
        self.received: list[HiveMessage] = []

    def greet(self, session: ClientSession, now: float = 0.0) -> None:
        hello = {"pubkey": "HUB-PEM", "peer": "ua::1::sat::sess", "node_id": "master:0.0.0.0"}
        offer = {
            "handshake": False,
            "min_protocol_version": self.min_protocol_version,
            "max_protocol_version": 1,
            "binarize": self.binarize,
            "preshared_key": False,
            "password": True,
            "crypto_required": True,
            "encodings": list(self.encodings),
            "ciphers": list(self.ciphers),
        }
        session.receive_message(HiveMessage("hello", hello).serialize(), now)
        session.receive_message(HiveMessage("shake", offer).serialize(), now)

    def answer(self, session: ClientSession, now: float = 0.0) -> None:
        """Read the client's HANDSHAKE and answer it; then read its (encrypted) HELLO."""
        for data in session.messages_to_send():
            self.take(data, session, now)

    def take(
        self, data: str | bytes, session: ClientSession | None = None, now: float = 0.0
    ) -> None:
        if self.key is None:
            request = decode_json(data)
            assert request.msg_type.value == "shake"
            payload: dict[str, Any] = request.raw_payload  # type: ignore[assignment]
            mine = PasswordHandshake(self.password)
            self.encoding = next(e for e in payload["encodings"] if e in self.encodings)
            self.cipher = next(c for c in payload["ciphers"] if c in self.ciphers)
            # hivemind-core never verifies the client's envelope: it just mixes the IVs.
            peer_iv = bytes.fromhex(payload["envelope"][:16])
            salt = bytes(a ^ b for a, b in zip(mine.iv, peer_iv, strict=True))
            self.key = hashlib.pbkdf2_hmac(
                "sha256", self.password.encode(), salt, PBKDF2_ITERATIONS
            )
            answer = {"envelope": mine.envelope, "encoding": self.encoding, "cipher": self.cipher}
            assert session is not None
            session.receive_message(HiveMessage("shake", answer).serialize(), now)
            for more in session.messages_to_send():
                self.take(more)
            return
        self.received.append(self.open(data))

    def open(self, data: str | bytes) -> HiveMessage:
        assert self.key is not None
        if isinstance(data, bytes):
            return decode_binary(open_binary(data, self.key, cipher=self.cipher))
        return decode_json(
            open_json(json.loads(data), self.key, cipher=self.cipher, encoding=self.encoding)
        )

    def seal(self, message: HiveMessage, *, binary: bool = False) -> str | bytes:
        assert self.key is not None
        if binary:
            from hivemind_client.wire.codec import encode_binary

            return seal_binary(encode_binary(message), self.key, cipher=self.cipher)
        return seal_json(message.serialize(), self.key, cipher=self.cipher, encoding=self.encoding)
