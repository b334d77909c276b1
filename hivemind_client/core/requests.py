"""Side effects the session core asks its driver for: slow work and anything stateful.

The core never derives a key, reads a file or writes one. It hands the driver a request; the
driver fulfils it where it likes (a worker thread, an executor) and, for a request that has a
result, feeds that back (:meth:`~hivemind_client.core.session.ClientSession.receive_psk`).
Writes have no result: a failed write only costs a re-pin or a re-derivation next time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CachePsk", "DeriveLinkKey", "DerivePsk", "ForgetPsk", "PinHubKey", "Request"]


@dataclass(frozen=True, slots=True)
class DerivePsk:
    """The v3 PSK for this hub: from the PSK cache if it holds one, else argon2id of the
    password salted with the hub's node_id (~0.15 s and 64 MiB). Answer with ``receive_psk``."""

    hub_node_id: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DeriveLinkKey:
    """The v1 session key: ``security.legacy_handshake.link_key(password, salt)`` (PBKDF2,
    ~35 ms). Asked for only with ``SessionConfig.defer_link_key``; answer with
    ``receive_link_key``."""

    password: bytes = field(repr=False)
    salt: bytes


@dataclass(frozen=True, slots=True)
class PinHubKey:
    """Remember the hub's Noise static key (trust on first use)."""

    pin_id: str
    key: bytes


@dataclass(frozen=True, slots=True)
class CachePsk:
    """Remember a PSK the hub just accepted, so reconnects skip argon2id."""

    hub_node_id: str
    psk: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ForgetPsk:
    """Drop a cached PSK that the hub refused (the password may have changed)."""

    hub_node_id: str


Request = DerivePsk | DeriveLinkKey | PinHubKey | CachePsk | ForgetPsk
