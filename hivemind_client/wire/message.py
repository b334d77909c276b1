"""The message model: OVOS ``Message`` and ``HiveMessage``.

``HiveMessage`` keeps the reference client's attribute and method names (``payload``,
``metadata``, ``route``, ``as_dict``, ``serialize``, ``update_hop_data`` ...), so code written
against ``hivemind_bus_client`` keeps working; construction is stricter (every problem is a
:class:`~hivemind_client.errors.HiveMindError`).
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, Protocol, TypeAlias, cast, runtime_checkable

from hivemind_client.errors import (
    HiveMindError,
    InvalidArgument,
    InvalidJSON,
    InvalidPayload,
    PayloadTooLarge,
    UnknownMessageType,
    WrongArgumentType,
)
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType
from hivemind_client.wire.validation import MAX_NESTING_DEPTH, validate_message

__all__ = [
    "DEFAULT_MAX_DECODED_ITEMS",
    "MAX_DATA_DEPTH",
    "decode_json",
    "message_from_dict",
    "WRAPPER_TYPES",
    "HiveMessage",
    "Message",
    "MessageLike",
    "as_ovos_dict",
    "ovos_message_class",
    "encode_utf8_json",
    "json_encoder",
    "json_tree_copy",
    "parse_json_object",
]

JSONObject: TypeAlias = dict[str, Any]

DEFAULT_MAX_DECODED_ITEMS = 65536
"""Most JSON values (array elements plus object members) one decoded text may hold.

``[{},{},...]`` builds about 72 bytes of Python objects per 3 bytes of text, so the inflation
bound alone lets a 32 KB frame cost ~790 MB; this bound holds any message to a few MB.
"""

MAX_DATA_DEPTH = 256
"""Deepest JSON tree :func:`json_tree_copy` copies (OVOS data nests a handful of levels)."""

# A JSON escape of a UTF-16 surrogate: text that may not round-trip to UTF-8. The literal
# prefix makes the search C-speed (about 0.4 us per KB); only a hit costs a real check.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

# Prebuilt codecs: json.dumps/loads with options build a new encoder or decoder on every call.
_decode_json = json.JSONDecoder().decode


def _not_json(value: object) -> NoReturn:
    raise InvalidArgument(f"a {type(value).__name__} is not JSON-encodable")


def json_encoder(*, ensure_ascii: bool) -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=...)`` with the defaults, about 1 us cheaper per call.

    The stdlib's C encoder is built once (json.JSONEncoder.encode builds one per call). Data
    that is not JSON (an unknown type, a cycle, nesting past the recursion limit) raises
    InvalidArgument.
    """
    quote = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    make_encoder = cast(Any, json.encoder).c_make_encoder
    if make_encoder is None:  # pragma: no cover - an interpreter without the _json module
        slow = json.JSONEncoder(ensure_ascii=ensure_ascii, default=_not_json).encode

        def chunks(value: Any, _level: int) -> tuple[str]:
            return (slow(value),)

    else:
        # markers=None: no cycle bookkeeping; a cycle ends in RecursionError instead
        chunks = make_encoder(None, _not_json, quote, None, ": ", ", ", False, False, True)

    def encode(value: Any) -> str:
        try:
            return "".join(chunks(value, 0))
        except InvalidArgument:
            raise
        except RecursionError:
            raise InvalidArgument("data nests too deeply (or refers to itself) for JSON") from None
        except (TypeError, ValueError) as exc:  # keys of other types, and the like
            raise InvalidArgument(f"data is not JSON-encodable: {exc}") from None

    return encode


_encode_utf8_json = json_encoder(ensure_ascii=False)

WRAPPER_TYPES = frozenset(
    {
        HiveMessageType.BROADCAST,
        HiveMessageType.PROPAGATE,
        HiveMessageType.ESCALATE,
        HiveMessageType.QUERY,
        HiveMessageType.CASCADE,
    }
)
"""Types whose payload is a complete nested HiveMessage."""

_BUS_TYPES = frozenset({HiveMessageType.BUS, HiveMessageType.SHARED_BUS})


@runtime_checkable
class MessageLike(Protocol):
    """Anything shaped like an OVOS bus message (``ovos_bus_client.Message`` included)."""

    msg_type: str
    data: Any
    context: Any


def parse_json_object(
    text: str | bytes,
    what: str = "message",
    *,
    max_items: int = DEFAULT_MAX_DECODED_ITEMS,
    json_error: type[InvalidJSON] = InvalidJSON,
) -> JSONObject:
    """Parse JSON text that must hold an object; errors are InvalidJSON (``json_error``: the
    subclass to raise, e.g. InvalidFrameJSON for text inside a binary frame).

    More than ``max_items`` values is PayloadTooLarge, decided before any object is built;
    text holding a lone surrogate (a valid JSON escape that no UTF-8 encoder accepts, so the
    message could never be sent on) is InvalidJSON.
    """
    # Values (and an object's key-value members) are separated by commas, so twice their count
    # bounds what the parser builds; containers nested without a comma between them are bounded
    # by the parser's recursion limit. Commas inside strings only over-count. One C-speed count
    # (about 0.3 ms per MiB); shorter text cannot exceed the bound, so small messages skip it.
    if len(text) > max_items:
        commas = text.count(",") if isinstance(text, str) else text.count(b",")
        items = 2 * (commas + 1)
        if items > max_items:
            raise PayloadTooLarge(
                f"{what} holds up to {items} JSON values, more than the {max_items} allowed"
            )
    try:
        if not isinstance(text, str):
            text = text.decode()  # strict: refuses encoded surrogates
        elif not text.isascii():
            text.encode()  # a str from Python may hold a literal surrogate
        value = _decode_json(text)
    except UnicodeError:
        raise json_error(f"{what} is not UTF-8 text (or holds a lone surrogate)") from None
    except (ValueError, RecursionError) as exc:
        raise json_error(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidPayload(f"{what} must be a JSON object, not {type(value).__name__}")
    # most text has no backslash at all: one memchr (about 25 us per MiB) skips the regex
    if "\\" in text and _SURROGATE_ESCAPE.search(text) is not None:
        _check_unicode(value, what, json_error)
    return value


def _check_unicode(value: JSONObject, what: str, json_error: type[InvalidJSON]) -> None:
    """Refuse a decoded value holding a lone surrogate (encoding it to UTF-8 is the C-speed test;
    paired escapes were already joined into one code point by the decoder)."""
    try:
        _encode_utf8_json(value).encode()
    except UnicodeEncodeError:
        raise json_error(f"{what} holds a lone UTF-16 surrogate (not valid Unicode)") from None
    except HiveMindError:
        raise json_error(f"{what} nests too deeply") from None


class Message:
    """A small OVOS-compatible bus message: ``type``, ``data`` and ``context``."""

    __slots__ = ("context", "data", "msg_type")

    def __init__(
        self,
        msg_type: str,
        data: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.msg_type = msg_type
        self.data: dict[str, Any] = dict(data) if data else {}
        self.context: dict[str, Any] = dict(context) if context else {}

    @property
    def as_dict(self) -> JSONObject:
        """The wire form ``{"type", "data", "context"}``."""
        return {"type": self.msg_type, "data": self.data, "context": self.context}

    def serialize(self) -> str:
        """JSON text as OVOS writes it (default separators, UTF-8 kept)."""
        return _encode_utf8_json(self.as_dict)

    @classmethod
    def deserialize(cls, value: str | bytes | Mapping[str, Any]) -> Message:
        """Build from JSON text or a mapping with at least ``type``."""
        obj = parse_json_object(value, "bus message") if isinstance(value, str | bytes) else value
        msg_type = obj.get("type")
        if not isinstance(msg_type, str):
            raise InvalidArgument("a bus message needs a 'type' string")
        return cls(
            msg_type, _mapping_or_empty(obj.get("data")), _mapping_or_empty(obj.get("context"))
        )

    def forward(self, msg_type: str, data: Mapping[str, Any] | None = None) -> Message:
        """A new message with the same context (the conversation continues)."""
        return Message(msg_type, data, copy.deepcopy(self.context))

    def reply(
        self,
        msg_type: str,
        data: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Message:
        """An answer: source and destination swap, extra ``context`` is merged in."""
        new_context = copy.deepcopy(self.context)
        new_context.update(context or {})
        if "source" in self.context:
            new_context["destination"] = self.context["source"]
        if "destination" in self.context:
            new_context["source"] = self.context["destination"]
        return Message(msg_type, data, new_context)

    def response(
        self, data: Mapping[str, Any] | None = None, context: Mapping[str, Any] | None = None
    ) -> Message:
        """The conventional ``<type>.response`` reply."""
        return self.reply(self.msg_type + ".response", data, context)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.as_dict == other.as_dict

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Message({self.msg_type!r}, data={self.data!r}, context={self.context!r})"


def encode_utf8_json(value: Any) -> str:
    """JSON text with default separators and UTF-8 kept, as OVOS and the reference write it."""
    return _encode_utf8_json(value)


def json_tree_copy(value: Any, *, max_depth: int = MAX_DATA_DEPTH) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars), several times cheaper than
    ``copy.deepcopy``: a JSON tree has no shared or cyclic parts to keep track of.

    A tree deeper than ``max_depth`` is InvalidPayload: the decoder accepts nearly a thousand
    levels, which a recursive copy (or any consumer) would not survive.
    """
    return _tree_copy(value, max_depth)


_CONTAINERS = (dict, list)


def _tree_copy(value: Any, depth: int) -> Any:
    # plain loops, not comprehensions: one frame per level (3.11 adds one per comprehension),
    # and no call at all for a scalar
    if isinstance(value, dict):
        if depth <= 0:
            raise InvalidPayload("data nests too deeply")
        copied: dict[str, Any] = {}
        for key, item in value.items():
            copied[key] = _tree_copy(item, depth - 1) if isinstance(item, _CONTAINERS) else item
        return copied
    if isinstance(value, list):
        if depth <= 0:
            raise InvalidPayload("data nests too deeply")
        items: list[Any] = []
        for item in value:
            items.append(_tree_copy(item, depth - 1) if isinstance(item, _CONTAINERS) else item)
        return items
    return value


def _mapping_or_empty(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"expected a JSON object, got {type(value).__name__}")
    return dict(value)


def as_ovos_dict(message: Any) -> JSONObject:
    """The ``{"type", "data", "context"}`` dict of any OVOS-like message."""
    if isinstance(message, Message):
        return message.as_dict
    if isinstance(message, MessageLike):
        return {
            "type": message.msg_type,
            "data": _mapping_or_empty(message.data),
            "context": _mapping_or_empty(message.context),
        }
    raise InvalidArgument(f"not a bus message: {type(message).__name__}")


class HiveMessage:
    """One HiveMind message: a type, a payload and routing fields.

    The payload is stored in its wire form: a JSON object (``dict``) for every type but
    BINARY, whose payload is ``bytes``. ``payload`` returns it as the richest object its type
    allows: a :class:`Message` for BUS and SHARED_BUS, a nested :class:`HiveMessage` for the
    wrapping types, the dict or bytes otherwise.
    """

    __slots__ = (
        "_bin_type",
        "_metadata",
        "_msg_type",
        "_node",
        "_payload",
        "_payload_view",
        "_route",
        "_source_peer",
        "_target_pubkey",
        "_target_site_id",
        "_targets",
    )

    def __init__(
        self,
        msg_type: HiveMessageType | str,
        payload: HiveMessage | MessageLike | Mapping[str, Any] | str | bytes | None = None,
        node: str | None = None,
        source_peer: str | None = None,
        route: list[dict[str, Any]] | None = None,
        target_peers: list[str] | None = None,
        target_site_id: str | None = None,
        target_pubkey: str | None = None,
        bin_type: BinaryPayloadType | int = BinaryPayloadType.UNDEFINED,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            self._msg_type = HiveMessageType(msg_type)
        except ValueError:
            raise UnknownMessageType(f"Unknown HiveMessage.msg_type {msg_type!r}") from None
        if self._msg_type is HiveMessageType.BINARY:
            if not isinstance(payload, bytes | bytearray | memoryview):
                raise InvalidArgument(_not_bytes(payload))
            if not 0 <= int(bin_type) <= 15:
                raise InvalidArgument(f"bin_type {bin_type} does not fit 4 bits")
            self._payload: JSONObject | bytes = bytes(payload)
        else:
            if bin_type:
                raise InvalidArgument("bin_type can only be set for BINARY messages")
            self._payload = _payload_dict(payload, self._msg_type)
            if self._msg_type in WRAPPER_TYPES:
                _check_wrapped(self._msg_type, self._payload)
        self._bin_type = int(bin_type)
        self._payload_view: Any = None
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgument("metadata must be a mapping")
        self._metadata: JSONObject = dict(metadata) if metadata else {}
        if route is not None and not isinstance(route, list | tuple):
            raise InvalidArgument("route must be a list of hops")
        self._node = node
        self._source_peer = source_peer
        self._route: list[dict[str, Any]] = list(route) if route else []
        self._targets: list[str] = list(target_peers) if target_peers else []
        self._target_site_id = target_site_id
        self._target_pubkey = target_pubkey

    @classmethod
    def _trusted(
        cls,
        msg_type: HiveMessageType,
        payload: JSONObject | bytes,
        metadata: JSONObject,
        bin_type: int = 0,
    ) -> HiveMessage:
        """Build from decoded, validated parts without re-checking them (the decoders' fast path)."""
        message = cls.__new__(cls)
        message._msg_type = msg_type
        message._payload = payload
        message._metadata = metadata
        message._bin_type = bin_type
        message._payload_view = None
        message._node = message._source_peer = message._target_site_id = message._target_pubkey = (
            None
        )
        message._route = payload.get("route") or [] if msg_type in WRAPPER_TYPES else []  # type: ignore[union-attr]
        message._targets = []
        return message

    @classmethod
    def from_dict(cls, envelope: Mapping[str, Any], *, per_hop: bool = False) -> HiveMessage:
        """Build from an already validated JSON envelope.

        ``node`` and ``source_peer`` describe the previous hop and are what the receiving node
        sets from its own connection, so they are dropped (as both reference clients drop
        them): a peer cannot claim to be another by writing them. ``per_hop=True`` keeps them,
        for code that inspects a frame as sent. BINARY has no JSON payload (the schema forbids
        one), so its payload is empty bytes here.
        """
        msg_type = envelope.get("msg_type")
        if not isinstance(msg_type, str):
            raise InvalidPayload("a message needs a msg_type string")
        binary = msg_type == HiveMessageType.BINARY.value
        return cls(
            msg_type,
            b"" if binary else envelope.get("payload") or {},
            node=envelope.get("node") if per_hop else None,
            source_peer=envelope.get("source_peer") if per_hop else None,
            route=envelope.get("route"),
            target_site_id=envelope.get("target_site_id"),
            target_pubkey=envelope.get("target_pubkey"),
            metadata=envelope.get("metadata"),
        )

    # -- fields -----------------------------------------------------------------------------
    @property
    def msg_type(self) -> HiveMessageType:
        """The message type (a ``str`` enum equal to its wire string)."""
        return self._msg_type

    @property
    def payload(self) -> Any:
        """The payload as :class:`Message`, :class:`HiveMessage`, ``dict`` or ``bytes``.

        BUS and SHARED_BUS payloads are ``ovos_bus_client.Message`` objects when that package
        is installed (code written for OVOS checks ``isinstance(..., Message)`` against it),
        else this module's :class:`Message`. A wrapping type that wraps nothing (decoded
        without a payload) gives None.
        """
        if self._payload_view is not None:
            return self._payload_view
        if self._msg_type in _BUS_TYPES:
            self._payload_view = _bus_view(cast(JSONObject, self._payload))
        elif self._msg_type in WRAPPER_TYPES:
            if not self._payload:
                return None
            self._payload_view = HiveMessage.from_dict(cast(JSONObject, self._payload))
        else:
            return self._payload
        return self._payload_view

    @payload.setter
    def payload(self, payload: Any) -> None:
        if self._msg_type is HiveMessageType.BINARY:
            if not isinstance(payload, bytes | bytearray | memoryview):
                raise InvalidArgument(_not_bytes(payload))
            self._payload = bytes(payload)
        else:
            new_payload = _payload_dict(payload, self._msg_type)
            if self._msg_type in WRAPPER_TYPES:
                _check_wrapped(self._msg_type, new_payload)
            self._payload = new_payload
        self._payload_view = None

    @property
    def raw_payload(self) -> JSONObject | bytes:
        """The payload exactly as stored: the wire dict, or bytes for BINARY."""
        return self._payload

    @property
    def metadata(self) -> JSONObject:
        """Free-form metadata (QUERY/CASCADE ids, BINARY audio parameters ...)."""
        return self._metadata

    @property
    def bin_type(self) -> BinaryPayloadType | int:
        """The BINARY subtype (an enum member when the protocol assigns the value)."""
        try:
            return BinaryPayloadType(self._bin_type)
        except ValueError:
            return self._bin_type

    @property
    def route(self) -> list[dict[str, Any]]:
        """Hops this message took: ``[{"source": peer, "targets": [...]}, ...]``.

        Only hops that name their source count (the minimum a hop records, and what both
        reference clients keep); entries without one are left out here and on the wire.
        """
        return [hop for hop in self._route if isinstance(hop, dict) and hop.get("source")]

    @property
    def node_id(self) -> str | None:
        """The node that last handled this message (per hop, reset by each receiver)."""
        return self._node

    @property
    def source_peer(self) -> str | None:
        """The peer this message arrived from (per hop)."""
        return self._source_peer

    @property
    def target_peers(self) -> list[str]:
        """Peers this node will send the message to (never serialized); with none named, the
        peer it came from (an answer goes back where the question came from), as the
        references do."""
        if self._source_peer and not self._targets:
            return [self._source_peer]
        return self._targets

    @property
    def target_site_id(self) -> str | None:
        """Site filter for BROADCAST/PROPAGATE/ESCALATE."""
        return self._target_site_id

    @property
    def target_public_key(self) -> str | None:
        """INTERCOM recipient (RSA public key, PEM)."""
        return self._target_pubkey

    target_pubkey = target_public_key

    # -- wire forms -------------------------------------------------------------------------
    @property
    def as_dict(self) -> JSONObject:
        """The JSON envelope (BINARY messages have none and raise InvalidArgument)."""
        if isinstance(self._payload, bytes):
            raise InvalidArgument(
                "BINARY messages travel only as binary frames; they have no JSON form"
            )
        return {
            "msg_type": self._msg_type.value,
            "payload": self._payload,
            "metadata": self._metadata,
            "route": self.route,
            "node": self._node,
            "target_site_id": self._target_site_id,
            "target_pubkey": self._target_pubkey,
            "source_peer": self._source_peer,
        }

    @property
    def as_json(self) -> str:
        """JSON text of :attr:`as_dict`, as the reference writes it (UTF-8 kept)."""
        return _encode_utf8_json(self.as_dict)

    def serialize(self) -> str:
        """Same as :attr:`as_json`."""
        return self.as_json

    @staticmethod
    def deserialize(payload: str | bytes | Mapping[str, Any]) -> HiveMessage:
        """Parse and validate a JSON envelope (text or mapping); ``node`` and ``source_peer``
        are per hop and not kept (see :meth:`from_dict`).

        A bare bus message (``{"type", "data", "context"}``, no ``msg_type``) is read as the
        BUS message carrying it, as the reference client reads it. The wire decoders
        (:func:`decode_json`, ``decode_binary``) take envelopes only.
        """
        if isinstance(payload, str | bytes):
            envelope = parse_json_object(payload)
        elif isinstance(payload, Mapping):
            envelope = dict(payload)
        else:
            raise InvalidPayload(f"a message must be a JSON object, not {type(payload).__name__}")
        if "msg_type" not in envelope and isinstance(envelope.get("type"), str):
            bus = {key: envelope[key] for key in ("type", "data", "context") if key in envelope}
            envelope = {
                "msg_type": HiveMessageType.BUS.value,
                "payload": bus,
                "metadata": envelope.get("metadata") or {},
                "target_site_id": envelope.get("target_site_id"),
                "target_pubkey": envelope.get("target_pubkey"),
            }
        return message_from_dict(envelope)

    @staticmethod
    def from_wire(frame: str | bytes | Mapping[str, Any]) -> HiveMessage:
        """Parse and validate a JSON envelope as sent, keeping ``node`` and ``source_peer``
        (what a peer claims about the hop, never a trusted identity)."""
        if isinstance(frame, str | bytes):
            envelope = parse_json_object(frame)
        elif isinstance(frame, Mapping):
            envelope = dict(frame)
        else:
            raise InvalidPayload(f"a wire frame must be a JSON object, not {type(frame).__name__}")
        validate_message(envelope)
        return HiveMessage.from_dict(envelope, per_hop=True)

    _KEEP: Any = object()

    def forward(
        self,
        payload: Any = _KEEP,
        msg_type: Any = _KEEP,
        metadata: Any = _KEEP,
        route: Any = _KEEP,
        source_peer: Any = _KEEP,
        target_peers: Any = _KEEP,
        target_site_id: Any = _KEEP,
        target_pubkey: Any = _KEEP,
        node: Any = _KEEP,
        bin_type: Any = _KEEP,
    ) -> HiveMessage:
        """A new message for the next hop: every field is copied unless named (``None`` drops
        an optional one), so a relay cannot forget the site or the metadata."""
        keep = HiveMessage._KEEP

        def pick(given: Any, current: Any) -> Any:
            return current if given is keep else given

        return HiveMessage(
            pick(msg_type, self._msg_type),
            pick(payload, self._payload),
            node=pick(node, self._node),
            source_peer=pick(source_peer, self._source_peer),
            route=pick(route, list(self._route)),
            target_peers=pick(target_peers, list(self._targets)),
            target_site_id=pick(target_site_id, self._target_site_id),
            target_pubkey=pick(target_pubkey, self._target_pubkey),
            bin_type=pick(bin_type, self._bin_type),
            metadata=pick(metadata, dict(self._metadata)),
        )

    # -- routing helpers --------------------------------------------------------------------
    def update_hop_data(self, data: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Record this hop in :attr:`route` (once per source peer), merging ``data`` into it."""
        last = self._route[-1] if self._route else None
        if not isinstance(last, dict) or last.get("source") != self._source_peer:
            self._route.append({"source": self._source_peer, "targets": list(self._targets)})
        if data or kwargs:
            self._route[-1].update(dict(data or {}, **kwargs))

    def replace_route(self, route: list[dict[str, Any]]) -> None:
        """Replace the whole route."""
        self._route = list(route)

    def update_source_peer(self, peer: str) -> HiveMessage:
        """Set the peer this message came from; returns self for chaining."""
        self._source_peer = peer
        return self

    def add_target_peer(self, peer: str) -> None:
        """Add a peer to send to."""
        self._targets.append(peer)

    def remove_target_peer(self, peer: str) -> None:
        """Remove a peer to send to, if present."""
        if peer in self._targets:
            self._targets.remove(peer)

    # -- dict-style access to the payload, as the reference offers --------------------------
    def __getitem__(self, item: str) -> Any:
        if isinstance(self._payload, bytes):
            raise WrongArgumentType("a BINARY payload is bytes and has no items")
        return self._payload.get(item)

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(self._payload, bytes):
            raise WrongArgumentType("a BINARY payload is bytes and has no items")
        self._payload[key] = value
        self._payload_view = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HiveMessage):
            return NotImplemented
        return (
            self._msg_type is other._msg_type
            and self._payload == other._payload
            and self._metadata == other._metadata
            and self._bin_type == other._bin_type
            and self._route == other._route
            and self._node == other._node
            and self._source_peer == other._source_peer
            and self._target_site_id == other._target_site_id
            and self._target_pubkey == other._target_pubkey
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if isinstance(self._payload, bytes):
            return (
                f"HiveMessage(BINARY, {len(self._payload)} bytes, "
                f"bin_type={self.bin_type!r}, metadata={self._metadata!r})"
            )
        return f"HiveMessage({self._msg_type.name}, payload={self._payload!r})"

    def __str__(self) -> str:
        """The JSON envelope, as the references print a message (BINARY: its size)."""
        if isinstance(self._payload, bytes):
            return f"HiveMessage(BINARY:{len(self._payload)})"
        return self.as_json


_OVOS_MESSAGE: list[Any] = []


def ovos_message_class() -> Any:
    """``ovos_bus_client.message.Message`` when that package is installed, else None (looked up
    once; the import happens on the first BUS payload read, never at import time)."""
    if not _OVOS_MESSAGE:
        try:
            module = importlib.import_module("ovos_bus_client.message")
            _OVOS_MESSAGE.append(getattr(module, "Message", None))
        except Exception:  # not installed, or broken: OVOS code then gets our Message
            _OVOS_MESSAGE.append(None)
    return _OVOS_MESSAGE[0]


def _not_bytes(payload: object) -> str:
    return (
        f"a BINARY message needs a bytes payload (expected 'bytes', got {type(payload).__name__})"
    )


def _bus_view(raw: JSONObject) -> Any:
    """The bus message a BUS/SHARED_BUS payload holds, sharing the ``data`` and ``context``
    dicts of the stored payload (where it has them), so a change made through the view is what
    is sent. Reading never adds a key to the stored payload."""
    bus = Message.deserialize(raw)  # validates the type and the shapes
    ovos_message = ovos_message_class()
    view = ovos_message(bus.msg_type, bus.data, bus.context) if ovos_message else bus
    for field in ("data", "context"):
        value = raw.get(field)
        if isinstance(value, dict):
            setattr(view, field, value)
    return view


def _payload_dict(payload: Any, msg_type: HiveMessageType) -> JSONObject:
    """The stored (wire) form of a payload given to the constructor or the setter.

    Text is refused, not parsed: JSON text is a wire value, read by ``from_wire`` or
    ``deserialize``, which validate it (parsing it here let a string smuggle a shape the
    decoders refuse into a wrapped message). A bus ``Message`` given to a wrapping type is
    refused too: those types carry a whole HiveMessage, and a bus message is not one.
    """
    if payload is None:
        return {}
    if isinstance(payload, dict):
        return payload
    if isinstance(payload, HiveMessage):
        return payload.as_dict
    if isinstance(payload, Message | MessageLike):
        if msg_type in WRAPPER_TYPES:
            raise InvalidArgument(
                f"a {msg_type.value} message carries a whole HiveMessage (with a msg_type), not "
                f"a bus Message: wrap it as HiveMessage(HiveMessageType.BUS, message) first"
            )
        return as_ovos_dict(payload)
    if isinstance(payload, Mapping):
        return dict(payload)
    if isinstance(payload, str | bytes | bytearray):
        raise InvalidPayload(
            f"a {msg_type.value} payload must be a JSON object, not {type(payload).__name__}"
            " (parse JSON text with HiveMessage.from_wire or HiveMessage.deserialize)"
        )
    raise InvalidArgument(f"a payload must be a JSON object, not {type(payload).__name__}")


def _check_wrapped(msg_type: HiveMessageType, payload: JSONObject) -> None:
    """A wrapping type's payload is a message (or nothing, as decode allows), at every level:
    what ``payload``, ``encode_binary`` and the decoders need (values are not validated here,
    as for every other type)."""
    depth = 0
    while payload:
        inner_type = payload.get("msg_type")
        if not isinstance(inner_type, str):
            raise InvalidPayload(
                f"a {msg_type.value} message wraps a message: its payload needs a msg_type"
            )
        try:
            msg_type = HiveMessageType(inner_type)
        except ValueError:
            raise UnknownMessageType(f"unknown msg_type {inner_type!r}") from None
        route = payload.get("route")
        if route is not None and not isinstance(route, list):
            raise InvalidPayload(f"the wrapped {msg_type.value} message's route is not a list")
        if msg_type not in WRAPPER_TYPES:
            return
        depth += 1
        if depth > MAX_NESTING_DEPTH:
            raise InvalidPayload(f"messages nest deeper than {MAX_NESTING_DEPTH} levels")
        inner = payload.get("payload")
        if inner is not None and not isinstance(inner, dict):
            raise InvalidPayload(f"the wrapped {msg_type.value} message's payload is not an object")
        payload = inner or {}


def message_from_dict(envelope: dict[str, Any]) -> HiveMessage:
    """Validate a decoded JSON envelope and build the message."""
    validate_message(envelope)
    return HiveMessage.from_dict(envelope)


def decode_json(
    text: str | bytes, *, max_decoded_items: int = DEFAULT_MAX_DECODED_ITEMS
) -> HiveMessage:
    """Parse and validate a JSON text frame (more than ``max_decoded_items`` JSON values is
    PayloadTooLarge)."""
    return message_from_dict(parse_json_object(text, max_items=max_decoded_items))
