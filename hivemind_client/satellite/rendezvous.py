"""RENDEZVOUS: store-and-forward mail through a hub that holds mailboxes (sans-I/O).

A hivemind-core 5.x hub with the ``hivemind-rendezvous`` package (and ``rendezvous.enabled``)
keeps a mailbox per access key. Two satellites that are never online together meet there: one
deposits an INTERCOM message for the other's access key, the other collects it later and acks
what it received (delivery is at least once: mail stays until acked).

The exchange, one request and one reply at a time (replies carry no request id)::

    {"cmd": "deposit", "target_key": KEY, "payload": "<INTERCOM JSON>", "ttl": S}
        -> {"status": "ok", "deposit_id": ID, "mailbox_node": ...}
    {"cmd": "collect"}  -> {"status": "ok", "messages": [{"deposit_id", "payload"}, ...]}
    {"cmd": "ack", "deposit_ids": [ID, ...]}  -> {"status": "ok", "removed": N}
    any refusal         -> {"status": "error", "reason": "...", "mailbox_node": ...}

This module builds the requests, checks our arguments (InvalidArgument) and reads the replies
(RendezvousError for a refusal, InvalidPayload for a reply of the wrong shape). Drivers send
and wait (``rendezvous_deposit``/``_collect``/``_ack`` on the clients).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hivemind_client.errors import HiveMindError, InvalidArgument, InvalidPayload, RendezvousError
from hivemind_client.security.intercom import open_intercom
from hivemind_client.wire.message import HiveMessage, decode_json
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "MAX_TTL",
    "Mail",
    "ack_request",
    "collect_request",
    "deposit_request",
    "is_reply",
    "open_mail",
    "read_ack",
    "read_collect",
    "read_deposit",
]

MAX_TTL = 7 * 24 * 3600
"""The longest a mailbox keeps a deposit (one week, the plugin's own cap)."""


@dataclass(frozen=True)
class Mail:
    """One collected deposit: its id (to ack), the INTERCOM message, or why it did not decode.

    A deposit that does not decode is still returned, so it can be acked and leave the box."""

    deposit_id: str
    raw: str
    message: HiveMessage | None
    error: HiveMindError | None = None


def deposit_request(target_key: str, intercom: HiveMessage, ttl: int | None = None) -> HiveMessage:
    """The request depositing ``intercom`` (an INTERCOM message) in ``target_key``'s mailbox."""
    if not isinstance(target_key, str) or not target_key:
        raise InvalidArgument("target_key must be the recipient's access key (a non-empty str)")
    if not isinstance(intercom, HiveMessage) or intercom.msg_type is not HiveMessageType.INTERCOM:
        raise InvalidArgument(
            "a rendezvous mailbox takes INTERCOM messages only (seal one with the recipient's"
            " public key: HiveMessage('intercom', seal_intercom(...)))"
        )
    payload: dict[str, Any] = {
        "cmd": "deposit",
        "target_key": target_key,
        "payload": intercom.serialize(),
    }
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= MAX_TTL:
            raise InvalidArgument(f"ttl must be whole seconds in 1..{MAX_TTL}, not {ttl!r}")
        payload["ttl"] = ttl
    return HiveMessage(HiveMessageType.RENDEZVOUS, payload)


def collect_request() -> HiveMessage:
    """The request for our own mailbox's pending mail (the hub knows it by our access key)."""
    return HiveMessage(HiveMessageType.RENDEZVOUS, {"cmd": "collect"})


def ack_request(deposit_ids: Iterable[str]) -> HiveMessage:
    """The request dropping the deposits we received."""
    ids = (
        list(deposit_ids)
        if isinstance(deposit_ids, Iterable) and not isinstance(deposit_ids, str | bytes)
        else None
    )
    if ids is None or not all(isinstance(i, str) and i for i in ids):
        raise InvalidArgument("deposit_ids must be an iterable of deposit id strings")
    return HiveMessage(HiveMessageType.RENDEZVOUS, {"cmd": "ack", "deposit_ids": ids})


def is_reply(message: Any) -> bool:
    """A RENDEZVOUS reply from the hub (it has a status; our own requests have a cmd)."""
    return (
        isinstance(message, HiveMessage)
        and message.msg_type is HiveMessageType.RENDEZVOUS
        and isinstance(message.raw_payload, Mapping)
        and "status" in message.raw_payload
    )


def _ok(reply: HiveMessage | None, what: str) -> Mapping[str, Any]:
    if reply is None:
        raise RendezvousError(f"the hub did not answer the rendezvous {what} in time", "no_reply")
    payload = reply.raw_payload
    if not isinstance(payload, Mapping):
        raise InvalidPayload(f"a rendezvous {what} reply must be a JSON object")
    node = payload.get("mailbox_node")
    node = node if isinstance(node, str) else None
    status = payload.get("status")
    if status == "ok":
        return payload
    reason = payload.get("reason")
    reason = reason[:200] if isinstance(reason, str) else "unknown"
    if status == "error":
        raise RendezvousError(f"the rendezvous {what} was refused: {reason!r}", reason, node)
    raise InvalidPayload(f"a rendezvous {what} reply has no valid status: {str(status)[:50]!r}")


def read_deposit(reply: HiveMessage | None) -> str:
    """The deposit id of an accepted deposit."""
    deposit_id = _ok(reply, "deposit").get("deposit_id")
    if not isinstance(deposit_id, str) or not deposit_id:
        raise InvalidPayload("an accepted deposit reply has no deposit_id")
    return deposit_id


def read_collect(reply: HiveMessage | None) -> list[Mail]:
    """The pending mail, oldest first as the hub lists it."""
    messages = _ok(reply, "collect").get("messages")
    if not isinstance(messages, list):
        raise InvalidPayload("a collect reply has no list of messages")
    mail = []
    for entry in messages:
        if not isinstance(entry, Mapping):
            raise InvalidPayload("a collected entry must be a JSON object")
        deposit_id, raw = entry.get("deposit_id"), entry.get("payload")
        if not isinstance(deposit_id, str) or not isinstance(raw, str):
            raise InvalidPayload("a collected entry needs a deposit_id and a payload string")
        try:
            message = decode_json(raw)
        except HiveMindError as error:
            mail.append(Mail(deposit_id, raw, None, error))
            continue
        mail.append(Mail(deposit_id, raw, message))
    return mail


def read_ack(reply: HiveMessage | None) -> int:
    """How many deposits the hub dropped."""
    removed = _ok(reply, "ack").get("removed")
    if isinstance(removed, bool) or not isinstance(removed, int):
        raise InvalidPayload("an ack reply has no count of removed deposits")
    return removed


def open_mail(
    mail: Mail, private_key_pem: str, *, sender_public_pem: str | None = None
) -> HiveMessage:
    """The message sealed inside a collected INTERCOM, opened with our RSA key.

    With ``sender_public_pem`` a signature must verify against it (AuthenticationFailed if
    not); a deposit that did not decode raises its own error."""
    if mail.message is None:
        raise mail.error or InvalidPayload("the deposit did not decode")
    if mail.message.msg_type is not HiveMessageType.INTERCOM:
        raise InvalidPayload(f"the deposit is {mail.message.msg_type.value}, not INTERCOM")
    envelope = mail.message.raw_payload
    if not isinstance(envelope, Mapping):
        raise InvalidPayload("the INTERCOM deposit carries no envelope")
    opened = open_intercom(envelope, private_key_pem, sender_public_pem=sender_public_pem)
    return decode_json(opened.plaintext)
