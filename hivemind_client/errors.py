"""The one error hierarchy of hivemind-client.

Every exception the library raises on purpose derives from :class:`HiveMindError` and carries a
stable ``code`` string. The codes of the conformance format (``docs/conformance.md``) are used
verbatim, so a vector's ``"error"`` field compares equal to ``exc.code``.

Two branches say who is at fault::

    HiveMindError                       code
    ├── LocalError                      (the caller misused the API or gave bad settings)
    │   ├── InvalidArgument             invalid-argument
    │   │   └── WrongArgumentType       (also a TypeError: a value of the wrong kind)
    │   ├── MetadataTooLarge            metadata-too-large
    │   ├── InvalidKeySize              invalid-key-size
    │   ├── UnknownCipher               unknown-cipher
    │   ├── NotConnected                not-connected
    │   ├── QueueFull                   queue-full
    │   ├── TooManyWaiters              too-many-waiters
    │   ├── TooManyPendingAggregations  too-many-pending-aggregations
    │   └── IdentityError               identity-error
    └── RemoteError                     (a peer or a file sent something we cannot accept)
        ├── FrameError
        │   ├── TruncatedFrame          truncated-frame
        │   ├── UnknownMessageType      unknown-message-type
        │   ├── UnsupportedVersion      unsupported-version
        │   ├── CorruptCompression      corrupt-compression
        │   └── PayloadTooLarge         payload-too-large
        ├── InvalidJSON                 invalid-json
        │   └── InvalidFrameJSON        (also a FrameError: the JSON inside a binary frame)
        ├── InvalidPayload              invalid-payload
        ├── InvalidEncoding             invalid-encoding
        ├── AuthenticationFailed        authentication-failed
        ├── HandshakeFailed             handshake-failed
        ├── ConnectionFailed            connection-failed
        └── RendezvousError             rendezvous-error

Bad values are also ``ValueError``s, as in Python and in the reference client (whose callers
catch ``ValueError`` for an unknown message type or a malformed frame): InvalidArgument,
MetadataTooLarge, every FrameError, InvalidJSON and InvalidPayload.

An unknown *encoding* or *message type* named by our own caller is reported with the same
class as one named by a peer: the code is what programs compare, the branch is a hint.

Where they come from, layer by layer (this module sits below all of them)::

    wire/        frames and messages    FrameError and its subclasses, MetadataTooLarge,
                                        InvalidJSON, InvalidPayload, InvalidArgument
    security/    encodings, AEAD,       InvalidEncoding, InvalidKeySize, UnknownCipher,
                 handshakes, Noise      AuthenticationFailed, HandshakeFailed
    core/        the session            HandshakeFailed, UnsupportedVersion, ConnectionFailed,
                                        NotConnected (as events; nothing escapes receive_message)
    satellite/   queue, waiters,        QueueFull, TooManyWaiters, TooManyPendingAggregations
                 CASCADE windows
    satellite/   RENDEZVOUS replies     RendezvousError
    identity/    files on disk          IdentityError
    sync/        the socket             ConnectionFailed (cannot connect, a certificate pin),
                                        PayloadTooLarge (a frame over max_message_size)
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "ConnectionFailed",
    "CorruptCompression",
    "FrameError",
    "HandshakeFailed",
    "HiveMindError",
    "IdentityError",
    "InvalidArgument",
    "InvalidEncoding",
    "InvalidFrameJSON",
    "InvalidJSON",
    "InvalidKeySize",
    "InvalidPayload",
    "LocalError",
    "MetadataTooLarge",
    "NotConnected",
    "PayloadTooLarge",
    "QueueFull",
    "RemoteError",
    "RendezvousError",
    "TooManyPendingAggregations",
    "TooManyWaiters",
    "TruncatedFrame",
    "UnknownCipher",
    "UnknownMessageType",
    "UnsupportedVersion",
    "WrongArgumentType",
    "error_codes",
]


class HiveMindError(Exception):
    """Base of every error raised by hivemind-client; ``code`` is stable across releases."""

    code = "hivemind-error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.code)


class LocalError(HiveMindError):
    """The caller used the API wrongly or configured it with values it cannot use."""

    code = "local-error"


class RemoteError(HiveMindError):
    """A peer (or a file) sent data that breaks the protocol."""

    code = "remote-error"


class InvalidArgument(LocalError, ValueError):
    """An argument has the wrong type or value."""

    code = "invalid-argument"


class WrongArgumentType(InvalidArgument, TypeError):
    """An argument of a kind the operation does not take (item access on a BINARY message's
    bytes payload): an InvalidArgument (code ``invalid-argument``) that is also a
    ``TypeError``, as Python reports such a misuse."""


class MetadataTooLarge(LocalError, ValueError):
    """Frame metadata does not fit the 255-byte field, even compressed."""

    code = "metadata-too-large"


class InvalidKeySize(LocalError):
    """A key's length does not suit the cipher."""

    code = "invalid-key-size"


class UnknownCipher(LocalError):
    """A cipher name that this library does not implement."""

    code = "unknown-cipher"


class NotConnected(LocalError):
    """An operation needs an established session and there is none."""

    code = "not-connected"


class QueueFull(LocalError):
    """The outgoing queue for a disconnected link is full; the message was not accepted."""

    code = "queue-full"


class TooManyWaiters(LocalError):
    """Too many ``wait_for_*`` calls are pending at once."""

    code = "too-many-waiters"


class TooManyPendingAggregations(LocalError):
    """More CASCADE/QUERY windows are open than the aggregator was configured to hold."""

    code = "too-many-pending-aggregations"


class IdentityError(LocalError):
    """The identity file or a key file is unreadable, corrupt, or cannot be written."""

    code = "identity-error"


class FrameError(RemoteError, ValueError):
    """A binary frame could not be decoded."""

    code = "frame-error"


class TruncatedFrame(FrameError):
    """The frame ends before the fields its header announces, or its bit length is wrong."""

    code = "truncated-frame"


class UnknownMessageType(FrameError):
    """A message type code or wire string that the protocol does not assign."""

    code = "unknown-message-type"


class UnsupportedVersion(FrameError):
    """A versioned frame or handshake names a protocol version we do not speak."""

    code = "unsupported-version"


class CorruptCompression(FrameError):
    """A zlib stream in a compressed frame is damaged."""

    code = "corrupt-compression"


class PayloadTooLarge(FrameError):
    """Data exceeds a configured bound (inflated size, frame size, reassembly size)."""

    code = "payload-too-large"


class InvalidJSON(RemoteError, ValueError):
    """Text that should be JSON is not JSON (or not UTF-8)."""

    code = "invalid-json"


class InvalidFrameJSON(InvalidJSON, FrameError):
    """The metadata or payload inside a binary frame is not JSON (or not UTF-8).

    Both an :class:`InvalidJSON` (its code is ``invalid-json``) and a :class:`FrameError`, so a
    caller that catches every undecodable binary frame with ``except FrameError`` gets it too.
    """


class InvalidPayload(RemoteError, ValueError):
    """Well-formed JSON that breaks the message schema."""

    code = "invalid-payload"


class InvalidEncoding(RemoteError):
    """Text that does not decode in the named binary-to-text encoding, or an unknown encoding."""

    code = "invalid-encoding"


class AuthenticationFailed(RemoteError):
    """An AEAD tag or a signature did not verify: wrong key or tampered data."""

    code = "authentication-failed"


class HandshakeFailed(RemoteError):
    """The key exchange could not complete (wrong password, bad envelope, no common cipher)."""

    code = "handshake-failed"


class ConnectionFailed(RemoteError):
    """The connection to the hub could not be made or was refused."""

    code = "connection-failed"


class RendezvousError(RemoteError):
    """A rendezvous node refused a deposit, collect or ack, or did not answer in time.

    ``reason`` is the node's own word (``not_a_rendezvous_node``, ``mailbox_full``,
    ``payload_must_be_intercom``, ...) or ``no_reply``; ``mailbox_node`` names the node that
    answered, when it said."""

    code = "rendezvous-error"

    def __init__(self, message: str, reason: str = "", mailbox_node: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.mailbox_node = mailbox_node


def error_codes() -> dict[str, type[HiveMindError]]:
    """Map every stable code to its class."""
    found: dict[str, type[HiveMindError]] = {}
    pending: list[type[HiveMindError]] = [HiveMindError]
    while pending:
        cls = pending.pop()
        if "code" in vars(cls):  # a class sharing its parent's code does not replace it
            found[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return found
