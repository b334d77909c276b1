"""Satellite routing: what a satellite does with each message its hub sends it.

:class:`SatelliteRouter` is a pure decision function: ``handle(message, now)`` returns a list
of actions, frozen dataclasses the client carries out. It opens no socket, starts no thread and
reads no clock (``now`` is passed in, for PING timestamps and the topology map).

=====================  ===================================================================
:class:`DeliverToBus`  inject this OVOS message into the local bus
:class:`Dispatch`      call the application's handlers for this wire type (every message)
:class:`Reply`         send this message to the hub
:class:`Drop`          log this reason; nothing else happens
=====================  ===================================================================

Policy (reference client 0.7/1.2 and hivemind-core 5.x behaviour, fixed where it crashed):

- **BUS** from the hub is delivered: the hub addressed us.
- **BROADCAST**: an inner BUS is delivered only when the outer ``target_site_id`` is non-empty
  and equals our site id. This is what the reference client and the hub do
  (``if site and site == self.site_id``) and what MSG-1 §5 says (an empty
  ``target_site_id`` delivers to no site); a satellite without a site id gets no site
  broadcasts. An inner INTERCOM is handled as INTERCOM; other inner types are dropped.
- **PROPAGATE**: an inner BUS needs the same site match *and* a trusted origin (below); an
  inner INTERCOM is handled as INTERCOM; an inner PING is fed to the :class:`HiveMapper` and
  answered once per ``flood_id`` (bounded LRU) with our own PING inside a PROPAGATE.
- **Trusted origin** (PROPAGATE): the origin is the ``source`` of the first well-formed hop of
  the route (the connection the message entered the mesh on, as its first hub recorded it;
  a hub that originates names itself by its RSA key), else ``source_peer``. It is trusted when
  it is an RSA public key (PEM) that is trusted, or names a node whose PING answer announced a
  trusted key (looked up by peer id or learned route label in the mapper). "Trusted" means in
  the trust store (``NodeIdentity.trusted_keys``) or equal to the hub's own key. Unlike the
  reference, *relays* do not lend trust: hivemind-core 5.x stamps its own key into every
  route, so "any hop trusted" would let everything through once the hub is trusted. Routes
  are not signed (a sender can prepend hops; PING answers are claims), so this is a filter
  against cross-site injection, not authentication; INTERCOM is the authenticated path. Pass
  ``propagate_trust`` to replace this rule.
- **INTERCOM**: one addressed to another key is dropped. Otherwise it is opened with our
  private key (failure: dropped). When signed, the signature is checked against the keys we
  know: the hub's key and the trusted keys; the first that verifies identifies the sender as
  trusted. The inner BUS is delivered only when the sender is trusted (CRYPTO-1 §5; hubs from
  4.10 do the same): anyone can encrypt to our public key, so "addressed to us" proves nothing
  about who wrote it. Unsigned or unknown-signer INTERCOM is dropped, unless the router is
  built with ``accept_untrusted_intercom=True``, which restores the reference's rule
  (delivered when addressed to our key or signed by a trusted key). A delivered message
  carries the verified signer's key (PEM, normalized line endings) in its context under
  :data:`VERIFIED_SOURCE_KEY`; any value a sender put there is removed from every delivered
  message.
- **QUERY / CASCADE** answers: the inner BUS chunk reaches the bus (so ``on_mycroft("speak")``
  hears it), except the ``hive.query.complete`` end-of-stream marker; the whole message also
  goes to the handlers (feed them to a
  :class:`~hivemind_client.satellite.cascade.CascadeAggregator` to pick among CASCADE answers).
- **ESCALATE / SHARED_BUS** only travel from satellites to hubs: logged and dropped. A bare PING
  (outside PROPAGATE) is dropped. Other types (HELLO, HANDSHAKE, BINARY ...) go to handlers.

Delivered bus messages get the reference's local treatment: a ``destination`` in the context
becomes the ``source`` (the message now originates from the hub side), and a session that is
ours keeps our site id.

Drop reasons end in log lines: every peer-supplied string in them is capped and has its
control characters escaped (:func:`~hivemind_client.satellite.hivemap.printable`), so a route
name holding a newline cannot forge a line.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, runtime_checkable

from hivemind_client.errors import AuthenticationFailed, HiveMindError, InvalidArgument
from hivemind_client.satellite.hivemap import (
    DEFAULT_FLOOD_CACHE_SIZE,
    FloodCache,
    HiveMapper,
    display_peer,
    printable,
)
from hivemind_client.security.intercom import open_intercom
from hivemind_client.security.keys import normalize_public_key
from hivemind_client.wire.codec import decode_json, message_from_dict
from hivemind_client.wire.message import HiveMessage, Message, as_ovos_dict, json_tree_copy
from hivemind_client.wire.message_types import HiveMessageType

QUERY_STREAM_END = "hive.query.complete"
"""The BUS message that ends a QUERY/CASCADE answer stream."""

UPSTREAM_REQUEST = "hive.send.upstream"
"""Local bus message asking the client to send ``data["msg_type"]``/``data["payload"]`` to the
hub (how OVOS-side plugins of a satellite reach the hub without holding the client)."""

__all__ = [
    "QUERY_STREAM_END",
    "UPSTREAM_REQUEST",
    "VERIFIED_SOURCE_KEY",
    "Action",
    "DeliverToBus",
    "Dispatch",
    "Drop",
    "Reply",
    "SatelliteRouter",
    "TrustStore",
    "origin_of",
    "upstream_of_local",
    "upstream_request",
]

VERIFIED_SOURCE_KEY = "hivemind_verified_source_peer"
"""Context key of a delivered INTERCOM's verified signer (the name reference 1.x uses)."""

_PEM_MARKER = "-----BEGIN"
_MAX_NAME_LENGTH = 2048
_MAX_REASON_LENGTH = 400


@dataclass(frozen=True, slots=True)
class DeliverToBus:
    """Inject ``message`` into the local OVOS bus."""

    message: Message


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Call the application's handlers for ``event`` (a HiveMessageType wire string)."""

    event: str
    message: HiveMessage


@dataclass(frozen=True, slots=True)
class Reply:
    """Send ``message`` to the hub."""

    message: HiveMessage


@dataclass(frozen=True, slots=True)
class Drop:
    """The message (or its inner part) was refused: log ``reason``.

    The reason is made safe to log here (capped, control characters escaped): it may quote
    what a peer sent.
    """

    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", printable(self.reason, _MAX_REASON_LENGTH))


Action: TypeAlias = DeliverToBus | Dispatch | Reply | Drop
"""What :meth:`SatelliteRouter.handle` asks the client to do."""


@runtime_checkable
class TrustStore(Protocol):
    """Where trusted RSA public keys live (:class:`~hivemind_client.identity.NodeIdentity`)."""

    def is_trusted(self, pubkey_pem: str) -> bool:
        """Whether ``pubkey_pem`` is trusted."""
        ...

    @property
    def trusted_keys(self) -> Mapping[str, str]:
        """Alias to PEM."""
        ...


class RouterIdentity(TrustStore, Protocol):
    """What :meth:`SatelliteRouter.from_identity` reads (a NodeIdentity has it all)."""

    @property
    def name(self) -> str:
        """Our node name (the peer id prefix)."""
        ...

    @property
    def site_id(self) -> str | None:
        """Our site id."""
        ...

    @property
    def public_key_pem(self) -> str | None:
        """Our RSA public key."""
        ...

    @property
    def private_key_pem(self) -> str | None:
        """Our RSA private key."""
        ...


def origin_of(message: HiveMessage) -> str | None:
    """Where a routed message entered the mesh: the first hop's source, else ``source_peer``
    (set by this node from its connection: decoding drops a peer-written one). A
    ``source_peer`` written inside the wrapped payload is the sender's claim and not used."""
    routes: list[Any] = [message.route]
    raw = message.raw_payload
    if isinstance(raw, dict):
        routes.append(raw.get("route"))
    for route in routes:
        if not isinstance(route, list):
            continue
        for hop in route:
            source = hop.get("source") if isinstance(hop, dict) else None
            if isinstance(source, str) and 0 < len(source) <= _MAX_NAME_LENGTH:
                return source
    return message.source_peer or None


class SatelliteRouter:
    """Decides what to do with each message from the hub (policy in the module docstring).

    ``peer`` is how our PING answers name us (the reference uses ``"<name>::<session_id>"``);
    ``public_key_pem``/``private_key_pem`` are our RSA identity (without a private key,
    INTERCOM cannot be opened and is dropped); ``trust`` holds trusted keys (a
    :class:`NodeIdentity` will do); ``hub_public_key`` is the key from the hub's HELLO, which
    may be set once it arrives. Build one from an identity with :meth:`from_identity`.
    INTERCOM reaches the bus only with a trusted signature unless ``accept_untrusted_intercom``
    (``require_intercom_signature`` is accepted for compatibility: it is the default now).
    """

    def __init__(
        self,
        *,
        peer: str,
        public_key_pem: str | None,
        private_key_pem: str | None = None,
        site_id: str | None = None,
        trust: TrustStore | None = None,
        hub_public_key: str | None = None,
        lang: str | None = None,
        session_id: str | None = None,
        mapper: HiveMapper | None = None,
        flood_cache_size: int = DEFAULT_FLOOD_CACHE_SIZE,
        propagate_trust: Callable[[HiveMessage], bool] | None = None,
        require_intercom_signature: bool = False,
        accept_untrusted_intercom: bool = False,
    ) -> None:
        if not isinstance(peer, str) or not peer:
            raise InvalidArgument("a router needs our peer id")
        if require_intercom_signature and accept_untrusted_intercom:
            raise InvalidArgument(
                "require_intercom_signature and accept_untrusted_intercom contradict each other"
            )
        if public_key_pem is not None and (
            not isinstance(public_key_pem, str) or _PEM_MARKER not in public_key_pem
        ):
            raise InvalidArgument("our public key must be an RSA public key (PEM), or None")
        # Without a key pair the satellite still routes; it just cannot be an INTERCOM recipient
        # and its PING answers carry no key.
        self._peer = peer
        self._public_key = public_key_pem
        self._public_key_normalized = (
            normalize_public_key(public_key_pem) if public_key_pem else None
        )
        self._private_key = private_key_pem
        self._site_id = site_id
        self._trust = trust
        self._hub_key: str | None = None
        self.hub_public_key = hub_public_key
        self._lang = lang
        self._session_id = session_id
        self._mapper = mapper
        self._floods = FloodCache(flood_cache_size)
        self._propagate_trust = propagate_trust
        # require_intercom_signature=True is the default now; kept so older callers still work
        self._accept_untrusted_intercom = accept_untrusted_intercom

    @classmethod
    def from_identity(
        cls,
        identity: RouterIdentity,
        *,
        session_id: str | None = None,
        peer: str | None = None,
        **options: Any,
    ) -> SatelliteRouter:
        """A router for ``identity`` (keys are created if it has none yet).

        ``peer`` defaults to ``"<name>::<session_id>"`` as the reference announces itself.
        """
        if peer is None:
            peer = f"{identity.name}::{session_id}" if session_id else identity.name
        options.setdefault("site_id", identity.site_id)
        return cls(
            peer=peer,
            public_key_pem=identity.public_key_pem,
            private_key_pem=identity.private_key_pem,
            trust=identity,
            session_id=session_id,
            **options,
        )

    # -- configuration ------------------------------------------------------------------------
    @property
    def peer(self) -> str:
        """Our peer id in PING answers."""
        return self._peer

    @property
    def site_id(self) -> str | None:
        """Our site id (BROADCAST/PROPAGATE site filter)."""
        return self._site_id

    @property
    def accepts_untrusted_intercom(self) -> bool:
        """INTERCOM from untrusted or unknown signers reaches the bus (an explicit opt-in)."""
        return self._accept_untrusted_intercom

    @property
    def public_key_pem(self) -> str | None:
        """Our RSA public key."""
        return self._public_key

    @property
    def hub_public_key(self) -> str | None:
        """The hub's RSA public key (from its HELLO); trusted like the trust store's keys."""
        return self._hub_key

    @hub_public_key.setter
    def hub_public_key(self, value: str | None) -> None:
        self._hub_key = value if isinstance(value, str) and _PEM_MARKER in value else None
        self._hub_key_normalized = (
            normalize_public_key(self._hub_key) if self._hub_key is not None else None
        )

    @property
    def mapper(self) -> HiveMapper | None:
        """The topology map fed with every PING answer, if any."""
        return self._mapper

    @property
    def flood_cache(self) -> FloodCache:
        """Flood ids already answered (or started by us)."""
        return self._floods

    # -- the decision -------------------------------------------------------------------------
    def handle(self, message: HiveMessage, now: float) -> list[Action]:
        """The actions for one message from the hub; :class:`Dispatch` always comes last.

        Raises only InvalidArgument (``message`` is not a HiveMessage); everything wrong with
        the message itself becomes a :class:`Drop`.
        """
        if not isinstance(message, HiveMessage):
            raise InvalidArgument(f"expected a HiveMessage, got {type(message).__name__}")
        handler = self._handlers.get(message.msg_type)
        actions: list[Action] = []
        if handler is not None:
            try:
                actions.extend(handler(self, message, now))
            except HiveMindError as exc:  # a nested part we could not use
                actions.append(Drop(f"{message.msg_type.value}: {exc.code}: {exc}"))
        actions.append(Dispatch(message.msg_type.value, message))
        return actions

    def start_ping(self, now: float, flood_id: str | None = None) -> HiveMessage:
        """A PROPAGATE(PING) flood to send; our own flood id is never answered by us."""
        flood_id = flood_id or str(uuid.uuid4())
        self._floods.add(flood_id)
        if self._mapper is not None:
            self._mapper.start_ping(flood_id)
        return self._ping_message(flood_id, now)

    def is_trusted_origin(self, message: HiveMessage) -> bool:
        """Whether a routed message comes from a trusted origin (module docstring)."""
        if self._propagate_trust is not None:
            return bool(self._propagate_trust(message))
        origin = origin_of(message)
        return origin is not None and self._is_trusted_name(origin)

    def is_trusted_key(self, pubkey_pem: str) -> bool:
        """Whether an RSA public key is the hub's or in the trust store."""
        if not isinstance(pubkey_pem, str) or _PEM_MARKER not in pubkey_pem:
            return False
        if self._hub_key_normalized == normalize_public_key(pubkey_pem):
            return True
        return self._trust is not None and bool(self._trust.is_trusted(pubkey_pem))

    # -- per type -----------------------------------------------------------------------------
    def _on_bus(self, message: HiveMessage, now: float) -> list[Action]:
        return self._deliver(message)

    def _on_broadcast(self, message: HiveMessage, now: float) -> list[Action]:
        inner = self._inner(message)
        if isinstance(inner, Drop):
            return [inner]
        if inner.msg_type is HiveMessageType.INTERCOM:
            return self._on_intercom(inner, now)
        if inner.msg_type is HiveMessageType.BUS:
            if not self._for_our_site(message.target_site_id):
                return [Drop(self._site_reason("BROADCAST", message.target_site_id))]
            return self._deliver(inner)
        return [Drop(f"BROADCAST of {inner.msg_type.value} is not handled by a satellite")]

    def _on_propagate(self, message: HiveMessage, now: float) -> list[Action]:
        inner = self._inner(message)
        if isinstance(inner, Drop):
            return [inner]
        if inner.msg_type is HiveMessageType.INTERCOM:
            return self._on_intercom(inner, now)
        if inner.msg_type is HiveMessageType.PING:
            return self._on_ping(message, inner, now)
        if inner.msg_type is HiveMessageType.BUS:
            if not self._for_our_site(message.target_site_id):
                return [Drop(self._site_reason("PROPAGATE", message.target_site_id))]
            if not self.is_trusted_origin(message):
                origin = origin_of(message)
                shown = f"'{display_peer(origin)}'" if origin else "an unknown origin"
                return [Drop(f"PROPAGATE(bus) from untrusted {shown}")]
            return self._deliver(inner)
        return [Drop(f"PROPAGATE of {inner.msg_type.value} is not handled by a satellite")]

    def _on_ping(self, outer: HiveMessage, inner: HiveMessage, now: float) -> list[Action]:
        if self._mapper is not None:
            self._mapper.observe_ping(outer, received_at=now)
        payload = inner.raw_payload
        flood_id = payload.get("flood_id") if isinstance(payload, dict) else None
        if not isinstance(flood_id, str) or not 0 < len(flood_id) <= _MAX_NAME_LENGTH:
            return [Drop("PING without a flood_id")]
        if isinstance(payload, dict) and payload.get("peer") == self._peer:
            self._floods.add(flood_id)  # our own answer came back around
            return []
        if self._floods.check(flood_id):
            return []  # answered already: once per flood
        return [Reply(self._ping_message(flood_id, now))]

    def _on_intercom(self, message: HiveMessage, now: float) -> list[Action]:
        target = message.target_public_key
        addressed_to_us = False
        if target:
            if (
                self._public_key_normalized is None
                or normalize_public_key(target) != self._public_key_normalized
            ):
                return [Drop("INTERCOM addressed to another node")]
            addressed_to_us = True
        if self._private_key is None:
            return [Drop("INTERCOM cannot be opened: no private key")]
        envelope = message.raw_payload
        if not isinstance(envelope, dict) or "ciphertext" not in envelope:
            return [Drop("INTERCOM payload is not an encrypted envelope")]
        try:
            opened = open_intercom(envelope, self._private_key)
        except HiveMindError as exc:
            if addressed_to_us:
                return [Drop(f"INTERCOM addressed to us does not open: {exc.code}")]
            return [Drop("INTERCOM does not open with our key: not for us")]
        signer = self._verified_signer(envelope) if opened.signed else None
        if signer is None:
            if not self._accept_untrusted_intercom:
                kind = "signed by an unknown key" if opened.signed else "unsigned"
                return [Drop(f"INTERCOM {kind}: only a trusted signer reaches the bus")]
            if not addressed_to_us:
                return [Drop("INTERCOM neither addressed to us nor signed by a trusted key")]
        try:
            inner = decode_json(opened.plaintext)
        except HiveMindError as exc:
            return [Drop(f"INTERCOM plaintext is not a valid message: {exc.code}")]
        if inner.msg_type is not HiveMessageType.BUS:
            return [Drop(f"INTERCOM carrying {inner.msg_type.value} is not handled")]
        return self._deliver(inner, verified_source=signer)

    def _on_hub_only(self, message: HiveMessage, now: float) -> list[Action]:
        return [Drop(f"{message.msg_type.value} travels from satellites to hubs, not to us")]

    def _on_bare_ping(self, message: HiveMessage, now: float) -> list[Action]:
        return [Drop("PING outside a PROPAGATE")]

    def _on_answer(self, message: HiveMessage, now: float) -> list[Action]:
        """A QUERY/CASCADE answer chunk from the hub: its inner BUS reaches the bus (the hub
        relays answers to what we asked); the end-of-stream marker does not."""
        inner = self._inner(message)
        if isinstance(inner, Drop):
            return [inner]
        if inner.msg_type is HiveMessageType.INTERCOM:
            return self._on_intercom(inner, now)
        if inner.msg_type is HiveMessageType.BUS:
            payload = inner.raw_payload
            if isinstance(payload, dict) and payload.get("type") == QUERY_STREAM_END:
                return []
            return self._deliver(inner)
        kind = message.msg_type.value.upper()
        return [Drop(f"{kind} carrying {inner.msg_type.value} is not handled by a satellite")]

    _handlers: Mapping[
        HiveMessageType, Callable[[SatelliteRouter, HiveMessage, float], list[Action]]
    ] = {
        HiveMessageType.BUS: _on_bus,
        HiveMessageType.BROADCAST: _on_broadcast,
        HiveMessageType.PROPAGATE: _on_propagate,
        HiveMessageType.INTERCOM: _on_intercom,
        HiveMessageType.ESCALATE: _on_hub_only,
        HiveMessageType.SHARED_BUS: _on_hub_only,
        HiveMessageType.PING: _on_bare_ping,
        HiveMessageType.QUERY: _on_answer,
        HiveMessageType.CASCADE: _on_answer,
    }

    # -- helpers ------------------------------------------------------------------------------
    def _inner(self, message: HiveMessage) -> HiveMessage | Drop:
        raw = message.raw_payload
        name = message.msg_type.value.upper()
        if not isinstance(raw, dict) or not isinstance(raw.get("msg_type"), str):
            return Drop(f"{name} does not wrap a message")
        try:
            return message_from_dict(dict(raw))
        except HiveMindError as exc:
            return Drop(f"{name} wraps an invalid message: {exc.code}")

    def _deliver(self, message: HiveMessage, verified_source: str | None = None) -> list[Action]:
        raw = message.raw_payload
        try:
            if not isinstance(raw, dict):
                raise InvalidArgument("not a JSON payload")
            bus = Message.deserialize(raw)
        except HiveMindError as exc:
            return [Drop(f"BUS payload is not a bus message: {exc.code}")]
        try:  # bus came from the wire: a JSON tree (bounded in depth)
            context = json_tree_copy(bus.context)
            data = json_tree_copy(bus.data)
        except HiveMindError as exc:
            return [Drop(f"BUS payload cannot be delivered: {exc.code}: {exc}")]
        context.pop(VERIFIED_SOURCE_KEY, None)
        if verified_source is not None:
            context[VERIFIED_SOURCE_KEY] = verified_source
        if "destination" in context:
            # from here on the message is native to this device (as the reference does)
            context["source"] = context.pop("destination")
        session = context.get("session")
        if (
            self._session_id is not None
            and isinstance(session, dict)
            and session.get("session_id") == self._session_id
        ):
            context["session"] = dict(session, site_id=self._site_id)
        return [DeliverToBus(Message(bus.msg_type, data, context))]

    def _verified_signer(self, envelope: Mapping[str, Any]) -> str | None:
        """The first known trusted key the envelope's signature verifies with, or None."""
        if self._private_key is None:
            return None
        candidates: list[str] = []
        seen: set[str] = set()
        keys = [self._hub_key] if self._hub_key else []
        if self._trust is not None:
            keys.extend(self._trust.trusted_keys.values())
        for key in keys:
            normalized = normalize_public_key(key) if isinstance(key, str) else ""
            if _PEM_MARKER in normalized and normalized not in seen:
                seen.add(normalized)
                candidates.append(key)
        for key in candidates:
            try:
                opened = open_intercom(envelope, self._private_key, sender_public_pem=key)
            except AuthenticationFailed:
                continue
            except HiveMindError:
                continue  # a trusted entry that is not a usable key
            if opened.verified:
                return normalize_public_key(key)
        return None

    def _for_our_site(self, target_site_id: str | None) -> bool:
        return (
            bool(target_site_id) and self._site_id is not None and target_site_id == self._site_id
        )

    def _site_reason(self, kind: str, target: str | None) -> str:
        if not target:
            return f"{kind}(bus) names no target site (delivers to no site)"
        return f"{kind}(bus) for site '{printable(target)}', not ours ({self._site_id!r})"

    def _is_trusted_name(self, name: str) -> bool:
        if _PEM_MARKER in name:
            return self.is_trusted_key(name)
        if self._mapper is None:
            return False
        key = self._mapper.public_key_of(name)
        return key is not None and self.is_trusted_key(key)

    def _ping_message(self, flood_id: str, now: float) -> HiveMessage:
        payload = {
            "flood_id": flood_id,
            "peer": self._peer,
            "site_id": self._site_id,
            "timestamp": now,
            "public_key": self._public_key,
            "lang": self._lang,
        }
        return HiveMessage(HiveMessageType.PROPAGATE, HiveMessage(HiveMessageType.PING, payload))

    def __repr__(self) -> str:
        return (
            f"SatelliteRouter(peer={self._peer!r}, site_id={self._site_id!r}, "
            f"answered_floods={len(self._floods)})"
        )


# -- the local bus, upstream -----------------------------------------------------------------


def upstream_of_local(
    message: Any, *, share_bus: bool, hub_node_id: str | None
) -> list[HiveMessage]:
    """What one message seen on the satellite's local bus sends to the hub.

    A SHARED_BUS copy when ``share_bus`` is on (the hub watches our bus), and the message as
    BUS when its context's ``destination`` names the hub's node id: a local reply to something
    the hub injected. ``message`` is a Message or its JSON text (OVOS buses hand their
    catch-all handlers text); text that names no destination is not parsed unless sharing.
    """
    if isinstance(message, str):
        if not share_bus and (not hub_node_id or hub_node_id not in message):
            return []
        message = Message.deserialize(message)
    payload = as_ovos_dict(message)
    upstream: list[HiveMessage] = []
    if share_bus:
        upstream.append(HiveMessage(HiveMessageType.SHARED_BUS, payload))
    context = payload.get("context")
    destination = context.get("destination") if isinstance(context, dict) else None
    peers = destination if isinstance(destination, list) else [destination]
    if hub_node_id and hub_node_id in peers:
        upstream.append(HiveMessage(HiveMessageType.BUS, payload))
    return upstream


def upstream_request(message: Any) -> HiveMessage | None:
    """The HiveMessage a :data:`UPSTREAM_REQUEST` bus message asks for, or None for BROADCAST
    (only hubs broadcast). InvalidArgument/InvalidPayload when the request is malformed."""
    data = getattr(message, "data", None)
    if not isinstance(data, dict):
        raise InvalidArgument(f"{UPSTREAM_REQUEST} needs data with msg_type and payload")
    msg_type = data.get("msg_type")
    if not isinstance(msg_type, str | HiveMessageType):
        raise InvalidArgument(f"{UPSTREAM_REQUEST}: msg_type must be a HiveMessage type name")
    wanted = HiveMessage(msg_type, data.get("payload"))
    return None if wanted.msg_type is HiveMessageType.BROADCAST else wanted
