"""The v1 RSA handshake: with no password, a hub that offers it keys the link with our RSA key."""

from __future__ import annotations

import json
from functools import cache

import pytest
from Crypto.PublicKey import RSA

from hivemind_client import HiveMessage
from hivemind_client.core.events import HandshakeCompleted, SessionFailed
from hivemind_client.core.session import ClientSession, SessionConfig, SessionState
from hivemind_client.errors import HandshakeFailed
from hivemind_client.security.aead import open_json
from hivemind_client.security.legacy_handshake import RsaHandshake
from hivemind_client.wire.codec import decode_json


@cache
def _pem(name: str) -> str:
    del name
    return RSA.generate(2048).export_key(format="PEM").decode()


def _public(private_pem: str) -> str:
    return RSA.import_key(private_pem).public_key().export_key(format="PEM").decode()


def _greet(session: ClientSession, *, rsa_offered: bool = True) -> None:
    hello = {"pubkey": _public(_pem("hub")), "peer": "p", "node_id": "hub-node"}
    offer = {
        "handshake": rsa_offered,
        "min_protocol_version": 0,
        "max_protocol_version": 1,
        "binarize": False,
        "preshared_key": False,
        "password": False,
        "crypto_required": True,
        "encodings": ["JSON-B64"],
        "ciphers": ["AES-GCM"],
    }
    session.receive_message(HiveMessage("hello", hello).serialize(), 0.0)
    session.receive_message(HiveMessage("shake", offer).serialize(), 0.0)


def _session() -> ClientSession:
    return ClientSession(SessionConfig(private_key_pem=_pem("client")), now=0.0)


def test_no_password_runs_the_rsa_handshake_and_keys_the_link() -> None:
    session = _session()
    _greet(session)
    (request,) = session.messages_to_send()
    payload = decode_json(request).raw_payload
    assert isinstance(payload, dict) and "envelope" not in payload
    assert payload["pubkey"] == _public(_pem("client"))
    envelope, secret = RsaHandshake(_pem("hub")).offer(payload["pubkey"])
    answer = {"envelope": envelope, "encoding": "JSON-B64", "cipher": "AES-GCM"}
    session.receive_message(HiveMessage("shake", answer).serialize(), 0.0)
    assert session.state is SessionState.READY
    completed = [e for e in session.events() if isinstance(e, HandshakeCompleted)]
    assert completed and completed[0].handshake == "rsa" and completed[0].protocol_version == 1
    # our HELLO went out sealed with the secret the hub sent
    (hello,) = session.messages_to_send()
    opened = open_json(json.loads(hello), secret, cipher="AES-GCM", encoding="JSON-B64")
    assert decode_json(opened).msg_type.value == "hello"


def test_an_envelope_not_signed_by_the_hubs_hello_key_is_refused() -> None:
    session = _session()
    _greet(session)
    (request,) = session.messages_to_send()
    pubkey = decode_json(request).raw_payload["pubkey"]  # type: ignore[index]
    envelope, _ = RsaHandshake(_pem("impostor")).offer(pubkey)
    session.receive_message(HiveMessage("shake", {"envelope": envelope}).serialize(), 0.0)
    failures = [e for e in session.events() if isinstance(e, SessionFailed)]
    assert failures and isinstance(failures[0].error, HandshakeFailed)
    assert session.closed


def test_without_an_rsa_offer_and_no_password_the_session_says_why() -> None:
    session = _session()
    _greet(session, rsa_offered=False)
    failures = [e for e in session.events() if isinstance(e, SessionFailed)]
    assert failures and "RSA handshake" in str(failures[0].error)


@pytest.mark.parametrize("floor", [3])
def test_min_protocol_version_refuses_the_rsa_handshake(floor: int) -> None:
    session = ClientSession(
        SessionConfig(private_key_pem=_pem("client"), min_protocol_version=floor), now=0.0
    )
    _greet(session)
    assert session.closed and session.messages_to_send() == []
