"""Where protocol v3 keeps what it learns between connections, and how a driver fulfils the
core's requests against it.

A :class:`NoiseKeyStore` holds the hub's pinned static keys and the PSKs derived for hubs. One
store belongs to one client (one access key): the PSK depends on the password and the hub's
node_id, and a hub keeps one pin per access key. :class:`IdentityNoiseStore` keeps them in a
:class:`~hivemind_client.identity.NodeIdentity` (files); :class:`MemoryNoiseStore` for as long
as the client lives. :func:`perform` is the one place that turns a
:mod:`~hivemind_client.core.requests` request into store calls and argon2id, so every driver
(threads, asyncio executors) does exactly the same.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from hivemind_client.core.requests import (
    CachePsk,
    DeriveLinkKey,
    DerivePsk,
    ForgetPsk,
    PinHubKey,
    Request,
)
from hivemind_client.errors import IdentityError
from hivemind_client.security.hivemind_noise import derive_psk
from hivemind_client.security.legacy_handshake import link_key

__all__ = [
    "LinkKeyResult",
    "IdentityNoiseStore",
    "MemoryNoiseStore",
    "NoiseKeyStore",
    "PskResult",
    "perform",
]

LOG = logging.getLogger(__name__)
_KEY_SIZE = 32


class NoiseKeyStore(Protocol):
    """What protocol v3 remembers between connections: hub key pins and derived PSKs."""

    def pinned_hub_key(self, pin_id: str) -> bytes | None:
        """The hub static key pinned under ``pin_id`` ("host:port"), or None."""
        ...

    def pin_hub_key(self, pin_id: str, key: bytes) -> None:
        """Pin a hub's static key after its first authenticated handshake."""
        ...

    def cached_psk(self, hub_node_id: str) -> bytes | None:
        """The PSK derived earlier for this hub, or None."""
        ...

    def cache_psk(self, hub_node_id: str, psk: bytes) -> None:
        """Remember a PSK that a hub just accepted."""
        ...

    def forget_psk(self, hub_node_id: str) -> None:
        """Drop a PSK that failed (the password may have changed since)."""
        ...


@dataclass(frozen=True, slots=True)
class PskResult:
    """The answer to :class:`DerivePsk`: feed it to ``ClientSession.receive_psk``."""

    psk: bytes
    cached: bool


@dataclass(frozen=True, slots=True)
class LinkKeyResult:
    """The answer to :class:`DeriveLinkKey`: feed it to ``receive_link_key``."""

    key: bytes = field(repr=False)


def perform(request: Request, store: NoiseKeyStore) -> PskResult | LinkKeyResult | None:
    """Fulfil one core request against ``store``; slow for a PSK not cached yet (argon2id)
    and for a v1 session key (PBKDF2).

    Call it off any event loop. :class:`DerivePsk` and :class:`DeriveLinkKey` have a result.
    """
    if isinstance(request, DeriveLinkKey):
        return LinkKeyResult(link_key(request.password, request.salt))
    if isinstance(request, DerivePsk):
        cached = store.cached_psk(request.hub_node_id)
        if cached is not None and len(cached) == _KEY_SIZE:
            return PskResult(cached, cached=True)
        return PskResult(derive_psk(request.password, request.hub_node_id), cached=False)
    if isinstance(request, PinHubKey):
        store.pin_hub_key(request.pin_id, request.key)
    elif isinstance(request, CachePsk):
        store.cache_psk(request.hub_node_id, request.psk)
    elif isinstance(request, ForgetPsk):
        store.forget_psk(request.hub_node_id)
    return None


class MemoryNoiseStore:
    """A :class:`NoiseKeyStore` in memory: pins and PSKs for as long as the object lives.

    PSKs are keyed by (hub node_id, access key); at most ``max_entries`` of each are kept.
    """

    def __init__(self, access_key: str | None = None, *, max_entries: int = 32) -> None:
        self.access_key = access_key
        self._max_entries = max_entries
        self._pins: OrderedDict[str, bytes] = OrderedDict()
        self._psks: OrderedDict[tuple[str, str | None], bytes] = OrderedDict()
        self._lock = threading.Lock()  # drivers fulfil requests on worker threads

    def pinned_hub_key(self, pin_id: str) -> bytes | None:
        """The pinned key, or None."""
        with self._lock:
            return self._pins.get(pin_id)

    def pin_hub_key(self, pin_id: str, key: bytes) -> None:
        """Pin ``key`` under ``pin_id``."""
        with self._lock:
            self._pins[pin_id] = bytes(key)
            _trim(self._pins, self._max_entries)

    def forget_hub(self, pin_id: str) -> bool:
        """Drop a pin; True when there was one."""
        with self._lock:
            return self._pins.pop(pin_id, None) is not None

    def cached_psk(self, hub_node_id: str) -> bytes | None:
        """The cached PSK, or None."""
        with self._lock:
            return self._psks.get((hub_node_id, self.access_key))

    def cache_psk(self, hub_node_id: str, psk: bytes) -> None:
        """Remember ``psk``."""
        with self._lock:
            self._psks[(hub_node_id, self.access_key)] = bytes(psk)
            _trim(self._psks, self._max_entries)

    def forget_psk(self, hub_node_id: str) -> None:
        """Drop the cached PSK."""
        with self._lock:
            self._psks.pop((hub_node_id, self.access_key), None)


def _trim(entries: OrderedDict[Any, bytes], limit: int) -> None:
    while len(entries) > max(limit, 1):
        entries.popitem(last=False)


class IdentityNoiseStore:
    """The :class:`NoiseKeyStore` on a NodeIdentity: pins in the identity, PSKs in its cache file.

    Writes are best effort: a pin or PSK that cannot be saved is logged and the session goes
    on (the pin is then taken again, on first use, at the next connection).
    """

    def __init__(self, identity: Any, access_key: str) -> None:
        self.identity = identity
        self.access_key = access_key

    @staticmethod
    def fits(identity: Any) -> bool:
        """Whether ``identity`` has what this store needs (a NodeIdentity has)."""
        names = ("pinned_hub", "pin_hub", "cached_psk", "cache_psk", "forget_psk")
        return identity is not None and all(
            callable(getattr(identity, name, None)) for name in names
        )

    def pinned_hub_key(self, pin_id: str) -> bytes | None:
        """The pin, from the identity."""
        return _key_bytes(self.identity.pinned_hub(pin_id))

    def pin_hub_key(self, pin_id: str, key: bytes) -> None:
        """Pin in the identity file."""
        try:
            self.identity.pin_hub(pin_id, key.hex())
        except IdentityError as exc:
            LOG.warning("could not save the hub key pinned for %s: %s", pin_id, exc)

    def cached_psk(self, hub_node_id: str) -> bytes | None:
        """The PSK from the identity's cache file."""
        return _key_bytes(self.identity.cached_psk(hub_node_id, self.access_key))

    def cache_psk(self, hub_node_id: str, psk: bytes) -> None:
        """Save the PSK in the identity's cache file."""
        try:
            self.identity.cache_psk(hub_node_id, self.access_key, psk.hex())
        except IdentityError as exc:
            LOG.debug("could not cache the PSK: %s", exc)

    def forget_psk(self, hub_node_id: str) -> None:
        """Drop the PSK from the identity's cache file."""
        try:
            self.identity.forget_psk(hub_node_id, self.access_key)
        except IdentityError as exc:
            LOG.debug("could not drop the cached PSK: %s", exc)


def _key_bytes(value: Any) -> bytes | None:
    """32 bytes from 64 hex digits, or None for anything else."""
    if not isinstance(value, str) or len(value) != 2 * _KEY_SIZE:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None
