"""End to end: RENDEZVOUS mail through a real hivemind-core 5.3 hub with the hivemind-rendezvous
mailbox (oracle env hub-5.3-rendezvous), and the refusal of a hub without it.

Two satellites that are never connected at the same time: one deposits an INTERCOM message
sealed for the other's RSA key into the other's mailbox (its access key) and leaves; the other
connects later, collects, opens the message with its identity's key (the signature checked
against the sender's key), acks, and finds the box empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hivemind_client import HiveMessage, Message
from hivemind_client.errors import InvalidArgument, RendezvousError
from hivemind_client.identity import NodeIdentity
from hivemind_client.security.intercom import seal_intercom
from hivemind_client.wire.message_types import HiveMessageType
from tests.drivers import make_client

from .hubs import DEFAULT_PASSWORD, RunningHub

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mail_hub() -> Iterator[RunningHub]:
    with RunningHub("5.3", rendezvous=True) as running:
        yield running


@pytest.fixture(scope="module")
def plain_hub() -> Iterator[RunningHub]:
    with RunningHub("5.3") as running:
        yield running


def _identity(path: Path) -> NodeIdentity:
    identity = NodeIdentity(path / "_identity.json")
    identity.ensure_keys()
    return identity


def _client(hub: RunningHub, driver: str, identity: NodeIdentity, key: str) -> Any:
    if key not in hub.clients:
        hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)
    return make_client(
        driver,
        key=key,
        password=DEFAULT_PASSWORD,
        host=hub.host,
        port=hub.port,
        identity=identity,
    )


def test_mail_deposited_by_one_satellite_is_collected_by_another_later(
    mail_hub: RunningHub, driver: str, tmp_path: Path
) -> None:
    alice, bob = _identity(tmp_path / "alice"), _identity(tmp_path / "bob")
    alice_key, bob_key = (f"k{uuid.uuid4().hex[:15]}" for _ in range(2))
    note = HiveMessage(HiveMessageType.BUS, Message("speak", {"utterance": "milk, eggs"}))
    sealed = seal_intercom(
        note.serialize(), bob.public_key_pem, sender_private_pem=alice.private_key_pem
    )
    with _client(mail_hub, driver, alice, alice_key) as sender:
        sender.connect()
        deposit_id = sender.rendezvous_deposit(
            bob_key, HiveMessage(HiveMessageType.INTERCOM, sealed), ttl=600
        )
        assert deposit_id
        assert sender.rendezvous_collect() == []  # our own box: the deposit went to bob's
    with _client(mail_hub, driver, bob, bob_key) as recipient:
        recipient.connect()
        (mail,) = recipient.rendezvous_collect()
        assert mail.deposit_id == deposit_id
        opened = recipient.open_mail(mail, sender_public_pem=alice.public_key_pem)
        assert opened.payload.msg_type == "speak"
        assert opened.payload.data == {"utterance": "milk, eggs"}
        assert len(recipient.rendezvous_collect()) == 1  # at least once: kept until acked
        assert recipient.rendezvous_ack([mail.deposit_id]) == 1
        assert recipient.rendezvous_collect() == []


def test_the_mailbox_refuses_what_is_not_intercom_and_we_refuse_it_first(
    mail_hub: RunningHub, tmp_path: Path
) -> None:
    key = f"k{uuid.uuid4().hex[:15]}"
    with _client(mail_hub, "threaded", _identity(tmp_path), key) as client:
        client.connect()
        with pytest.raises(InvalidArgument):
            client.rendezvous_deposit(key, HiveMessage(HiveMessageType.BUS, Message("x")))
        with pytest.raises(InvalidArgument):
            client.rendezvous_deposit(key, HiveMessage(HiveMessageType.INTERCOM, {}), ttl=0)
        # what only the node checks: an unknown command, through the raw message
        client.emit(HiveMessage(HiveMessageType.RENDEZVOUS, {"cmd": "shred"}))
        reply = client.wait_for_message(HiveMessageType.RENDEZVOUS, timeout=10)
        assert isinstance(reply, HiveMessage)
        assert reply.payload == {
            "status": "error",
            "reason": "unknown_command",
            "mailbox_node": reply.payload.get("mailbox_node"),
        }


def test_a_hub_without_a_mailbox_says_so(
    plain_hub: RunningHub, driver: str, tmp_path: Path
) -> None:
    key = f"k{uuid.uuid4().hex[:15]}"
    with _client(plain_hub, driver, _identity(tmp_path), key) as client:
        client.connect()
        with pytest.raises(RendezvousError) as refused:
            client.rendezvous_collect()
    assert refused.value.reason == "not_a_rendezvous_node"
    assert refused.value.code == "rendezvous-error"
