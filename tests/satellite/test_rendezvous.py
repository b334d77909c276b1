"""RENDEZVOUS requests and replies (hivemind_client.satellite.rendezvous), without a hub."""

from __future__ import annotations

from typing import Any

import pytest
from Crypto.PublicKey import RSA

from hivemind_client import HiveMessage, Message
from hivemind_client.errors import (
    AuthenticationFailed,
    InvalidArgument,
    InvalidPayload,
    RendezvousError,
)
from hivemind_client.satellite import rendezvous
from hivemind_client.security.intercom import seal_intercom
from hivemind_client.wire.message_types import HiveMessageType

_KEYS = [RSA.generate(2048) for _ in range(2)]
RECIPIENT, SENDER = ((k.export_key().decode(), k.publickey().export_key().decode()) for k in _KEYS)


def _reply(**payload: Any) -> HiveMessage:
    return HiveMessage(HiveMessageType.RENDEZVOUS, payload)


def _intercom(text: str = "hi", sign: bool = True) -> HiveMessage:
    inner = HiveMessage(HiveMessageType.BUS, Message("speak", {"utterance": text}))
    envelope = seal_intercom(
        inner.serialize(), RECIPIENT[1], sender_private_pem=SENDER[0] if sign else None
    )
    return HiveMessage(HiveMessageType.INTERCOM, envelope)


def test_a_deposit_carries_the_serialized_intercom_for_the_recipients_key() -> None:
    mail = _intercom()
    request = rendezvous.deposit_request("bob-key", mail, ttl=60)
    assert request.msg_type is HiveMessageType.RENDEZVOUS
    assert request.payload == {
        "cmd": "deposit",
        "target_key": "bob-key",
        "payload": mail.serialize(),
        "ttl": 60,
    }
    assert "ttl" not in rendezvous.deposit_request("bob-key", mail).payload
    assert rendezvous.collect_request().payload == {"cmd": "collect"}
    assert rendezvous.ack_request(["a", "b"]).payload == {"cmd": "ack", "deposit_ids": ["a", "b"]}


@pytest.mark.parametrize(
    "target, message, ttl",
    [
        ("", _intercom(), None),
        (None, _intercom(), None),
        ("k", HiveMessage(HiveMessageType.BUS, Message("x")), None),
        ("k", "not a message", None),
        ("k", _intercom(), 0),
        ("k", _intercom(), True),
        ("k", _intercom(), 1.5),
        ("k", _intercom(), rendezvous.MAX_TTL + 1),
    ],
)
def test_bad_deposits_are_refused_before_anything_is_sent(
    target: Any, message: Any, ttl: Any
) -> None:
    with pytest.raises(InvalidArgument):
        rendezvous.deposit_request(target, message, ttl)


@pytest.mark.parametrize("ids", ["abc", [1], [""], None])
def test_bad_acks_are_refused(ids: Any) -> None:
    with pytest.raises(InvalidArgument):
        rendezvous.ack_request(ids)


def test_replies_are_told_from_requests() -> None:
    assert rendezvous.is_reply(_reply(status="ok"))
    assert not rendezvous.is_reply(rendezvous.collect_request())
    assert not rendezvous.is_reply(HiveMessage(HiveMessageType.BUS, Message("x", {"status": 1})))
    assert not rendezvous.is_reply(Message("x"))


def test_accepted_replies_are_read() -> None:
    assert rendezvous.read_deposit(_reply(status="ok", deposit_id="d1", mailbox_node="n")) == "d1"
    assert rendezvous.read_ack(_reply(status="ok", removed=2)) == 2
    mail = _intercom()
    (got,) = rendezvous.read_collect(
        _reply(status="ok", messages=[{"deposit_id": "d1", "payload": mail.serialize()}])
    )
    assert (got.deposit_id, got.message, got.error) == ("d1", mail, None)


def test_a_refusal_keeps_the_nodes_reason_and_name() -> None:
    with pytest.raises(RendezvousError) as refused:
        rendezvous.read_collect(
            _reply(status="error", reason="not_a_rendezvous_node", mailbox_node="node-1")
        )
    assert (refused.value.reason, refused.value.mailbox_node) == ("not_a_rendezvous_node", "node-1")
    with pytest.raises(RendezvousError) as silent:
        rendezvous.read_deposit(None)
    assert silent.value.reason == "no_reply"


@pytest.mark.parametrize(
    "read, payload",
    [
        (rendezvous.read_deposit, {"status": "maybe"}),
        (rendezvous.read_deposit, {"status": "ok"}),
        (rendezvous.read_deposit, {"status": "ok", "deposit_id": 5}),
        (rendezvous.read_collect, {"status": "ok", "messages": "none"}),
        (rendezvous.read_collect, {"status": "ok", "messages": [1]}),
        (rendezvous.read_collect, {"status": "ok", "messages": [{"deposit_id": "d"}]}),
        (rendezvous.read_ack, {"status": "ok", "removed": True}),
        (rendezvous.read_ack, {"status": "ok"}),
    ],
)
def test_malformed_replies_are_invalid_payload(read: Any, payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload):
        read(_reply(**payload))


def test_an_undecodable_deposit_is_returned_so_it_can_be_acked() -> None:
    (bad,) = rendezvous.read_collect(
        _reply(status="ok", messages=[{"deposit_id": "d9", "payload": "{not json"}])
    )
    assert bad.message is None and bad.error is not None
    with pytest.raises(type(bad.error)):
        rendezvous.open_mail(bad, RECIPIENT[0])


def test_open_mail_checks_the_senders_signature() -> None:
    mail = rendezvous.Mail("d1", "", _intercom("milk"))
    opened = rendezvous.open_mail(mail, RECIPIENT[0], sender_public_pem=SENDER[1])
    assert opened.payload.data == {"utterance": "milk"}
    with pytest.raises(AuthenticationFailed):  # signed, but not by the key we expected
        rendezvous.open_mail(mail, RECIPIENT[0], sender_public_pem=RECIPIENT[1])
    with pytest.raises(AuthenticationFailed):  # not sealed for our key
        rendezvous.open_mail(mail, SENDER[0])
    not_intercom = rendezvous.Mail("d2", "", HiveMessage(HiveMessageType.BUS, Message("x")))
    with pytest.raises(InvalidPayload):
        rendezvous.open_mail(not_intercom, RECIPIENT[0])
