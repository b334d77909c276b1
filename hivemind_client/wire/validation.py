"""Schema validation of JSON messages: the facade over the validators generated from schema/.

The generated module holds one validator per schema definition and the table that maps each
``msg_type`` to the definition its payload must satisfy (both derived from
``schema/hive_message.schema.json``). Validating the envelope and then only the matching
definition is equivalent to the whole schema and several times faster; a property test holds
the two equal.
"""

from __future__ import annotations

from typing import Any

from hivemind_client._generated import hive_message_validator as _generated
from hivemind_client.errors import InvalidPayload, UnknownMessageType
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "MAX_NESTING_DEPTH",
    "validate_payload",
    "validate_conformance_file",
    "validate_message",
    "validate_message_fully",
]

MAX_NESTING_DEPTH = 16
"""How many wrapping messages (PROPAGATE inside BROADCAST inside ...) one message may nest."""

_WIRE_STRINGS = frozenset(t.value for t in HiveMessageType)
_ENVELOPE = _generated.DEFINITIONS["envelope"]
_RULES: dict[str, tuple[tuple[str, str], ...]] = _generated.RULES
_DEFINITIONS = _generated.DEFINITIONS
_SchemaError = _generated.JsonSchemaValueException


def validate_message(message: Any, *, _depth: int = 0) -> None:
    """Check one decoded JSON message against the schema, nested messages included.

    Raises :class:`UnknownMessageType` for a ``msg_type`` the protocol does not define and
    :class:`InvalidPayload` for anything else the schema refuses.
    """
    if _depth > MAX_NESTING_DEPTH:
        raise InvalidPayload(f"messages nest deeper than {MAX_NESTING_DEPTH} levels")
    if not isinstance(message, dict):
        raise InvalidPayload(f"a message must be a JSON object, not {type(message).__name__}")
    msg_type = message.get("msg_type")
    if not isinstance(msg_type, str):
        raise InvalidPayload("a message needs a msg_type string")
    if msg_type not in _WIRE_STRINGS:
        raise UnknownMessageType(f"unknown msg_type {msg_type!r}")
    try:
        _ENVELOPE(message)
        for field, definition in _RULES.get(msg_type, ()):
            if field not in message:
                continue
            if definition == "#":
                validate_message(message[field], _depth=_depth + 1)
            else:
                _DEFINITIONS[definition](message[field], name_prefix=f"data.{field}")
    except _SchemaError as exc:
        raise InvalidPayload(f"{msg_type} message: {exc.message}") from None


def validate_payload(msg_type: HiveMessageType, field: str, value: Any) -> None:
    """Check one field (``payload`` or ``metadata``) of a message whose envelope we built."""
    for name, definition in _RULES.get(msg_type.value, ()):
        if name != field:
            continue
        if definition == "#":
            validate_message(value, _depth=1)
            continue
        try:
            _DEFINITIONS[definition](value, name_prefix=f"data.{field}")
        except _SchemaError as exc:
            raise InvalidPayload(f"{msg_type.value} message: {exc.message}") from None


def validate_message_fully(message: Any) -> None:
    """Validate with the whole generated schema in one pass (slower; used to cross-check)."""
    try:
        _generated.validate(message)
    except _SchemaError as exc:
        raise InvalidPayload(exc.message) from None
    except RecursionError:
        raise InvalidPayload("message nests too deeply") from None


def validate_conformance_file(document: Any) -> None:
    """Check a conformance vector file against ``schema/conformance.schema.json``."""
    from hivemind_client._generated import conformance_validator

    try:
        conformance_validator.validate(document)
    except conformance_validator.JsonSchemaValueException as exc:
        raise InvalidPayload(f"{exc.name}: {exc.message}") from None
