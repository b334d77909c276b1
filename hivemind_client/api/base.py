"""The part of a HiveMind client that every driver shares: settings, identity, the core.

A driver (threads, asyncio, HTTP polling) subclasses :class:`ClientBase` and adds only how it
moves bytes and runs handlers. The constructor takes the reference client's arguments.
"""

from __future__ import annotations

import math
import random
import secrets
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from hivemind_client.api.handlers import (
    BinaryDataCallbacks,
    ClientEvents,
    HandlerRegistry,
    default_internal_bus,
    deliver_binary,
    for_bus,
)
from hivemind_client.core.links import DEFAULT_NONCE_WINDOW
from hivemind_client.core.reconnect import GiveUp, ReconnectPolicy, Retry
from hivemind_client.core.session import (
    DEFAULT_MAX_HANDSHAKE_MESSAGE,
)
from hivemind_client.core.url import build_url as _build_url
from hivemind_client.errors import HandshakeFailed, IdentityError, InvalidArgument
from hivemind_client.identity.node_identity import NodeIdentity
from hivemind_client.identity.stores import IdentityNoiseStore, MemoryNoiseStore, NoiseKeyStore
from hivemind_client.satellite.core import (
    BinaryReceived,
    Connected,
    ConnectionEnded,
    ConnectionInfo,
    Output,
    RunHandlers,
    SatelliteConfig,
    SatelliteCore,
    Waiter,
    WaiterMatched,
)
from hivemind_client.satellite.hivemap import HiveMapper
from hivemind_client.satellite.rendezvous import Mail, open_mail
from hivemind_client.satellite.routing import UPSTREAM_REQUEST, DeliverToBus, SatelliteRouter
from hivemind_client.security.hivemind_noise import PROTOCOL_VERSION
from hivemind_client.wire.codec import DEFAULT_MAX_DECODED_ITEMS
from hivemind_client.wire.message import HiveMessage, Message

__all__ = [
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_PONG_TIMEOUT",
    "DEFAULT_RECONNECT",
    "DEFAULT_USERAGENT",
    "ClientBase",
    "lifecycle_events",
    "resolve_identity",
]

DEFAULT_USERAGENT = "HiveMessageBusClientV0.0.1"
DEFAULT_RECONNECT = ReconnectPolicy()
DEFAULT_PING_INTERVAL = 20.0
DEFAULT_PONG_TIMEOUT = 10.0


class ClientBase(HandlerRegistry):
    """Settings (from arguments or an identity), the key store and the satellite core."""

    def __init__(
        self,
        key: str | None = None,
        password: str | None = None,
        crypto_key: str | bytes | None = None,
        host: str | None = None,
        port: int | None = None,
        useragent: str = DEFAULT_USERAGENT,
        self_signed: bool = False,
        share_bus: bool = False,
        compress: bool | None = None,
        binarize: bool = True,
        identity: Any = None,
        internal_bus: Any = None,
        bin_callbacks: BinaryDataCallbacks | None = None,
        *,
        site_id: str | None = None,
        certificate_sha256: str | None = None,
        handshake_timeout: float = 10.0,
        max_queue: int = 1000,
        max_waiters: int = 1000,
        max_pending_handlers: int = 1000,
        max_pending_bytes: int = 64 * 1024 * 1024,
        reconnect: ReconnectPolicy | None = DEFAULT_RECONNECT,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        pong_timeout: float | None = DEFAULT_PONG_TIMEOUT,
        min_protocol_version: int = 0,
        max_protocol_version: int = PROTOCOL_VERSION,
        max_handshake_message: int = DEFAULT_MAX_HANDSHAKE_MESSAGE,
        nonce_window: int = DEFAULT_NONCE_WINDOW,
        max_decoded_items: int = DEFAULT_MAX_DECODED_ITEMS,
        accept_untrusted_intercom: bool = False,
        ciphers: Sequence[str] | None = None,
        encodings: Sequence[str] | None = None,
        app_name: str | None = None,
        connect_timeout: float | None = 10.0,
        websocket_ping_interval: float | None = None,
        websocket_ping_timeout: float | None = None,
        websocket_connect_timeout: float | None = None,
    ) -> None:
        super().__init__()
        # the 1.2 client's keepalive keywords: None keeps ours, 0 turns that part off
        if websocket_ping_interval is not None:
            ping_interval = _seconds("websocket_ping_interval", websocket_ping_interval)
        if websocket_ping_timeout is not None:
            pong_timeout = _seconds("websocket_ping_timeout", websocket_ping_timeout) or None
        if websocket_connect_timeout is not None:
            connect_timeout = websocket_connect_timeout
        identity = resolve_identity(identity, app_name)
        self.identity = identity
        self.key = key or _identity_value(identity, "access_key", "key")
        self.password = password or _identity_value(identity, "password")
        self.host = host or _identity_value(identity, "default_master", "host") or "127.0.0.1"
        self.port = port or _identity_value(identity, "default_port", "port")
        self.site_id = site_id or _identity_value(identity, "site_id") or "unknown"
        if not self.key:
            raise InvalidArgument("an access key is needed (key=... or an identity with one)")
        if isinstance(crypto_key, str):
            crypto_key = crypto_key.encode()
        self.crypto_key = crypto_key
        self.useragent = useragent
        self.self_signed = self_signed
        self.certificate_sha256 = certificate_sha256
        self.share_bus = share_bus
        self.compress = compress
        self.binarize = binarize
        self.internal_bus = internal_bus if internal_bus is not None else default_internal_bus()
        self._bridged: list[Any] = []  # buses besides internal_bus (bridge_bus)
        self.emitter = ClientEvents()
        """open / close / reconnecting / auth_rejected, as an OVOS bus client's emitter."""
        self.connected_event = threading.Event()
        """Set while a session is established (an OVOS bus client's ``connected_event``)."""
        self.bin_callbacks = bin_callbacks or BinaryDataCallbacks()
        self.handshake_timeout = handshake_timeout
        self.reconnect = reconnect
        self.ping_interval = ping_interval
        """Seconds of silence from the hub before we ping it; 0: no pings (and no pong deadline)."""
        self.connect_timeout = connect_timeout
        """Seconds a websocket may take to open (TCP, TLS, upgrade), and then the hub to send
        its first message; None or 0: no bound (``close()`` still ends an attempt that waits)."""
        self.ciphers = tuple(ciphers) if ciphers else None
        self.encodings = tuple(encodings) if encodings else None
        self._max_pending_handlers = max_pending_handlers
        self._max_pending_bytes = max_pending_bytes
        self.pong_timeout = pong_timeout
        self.min_protocol_version = min_protocol_version
        self.max_protocol_version = max_protocol_version
        self.max_handshake_message = max_handshake_message
        self.nonce_window = nonce_window
        self.max_decoded_items = max_decoded_items
        self.accept_untrusted_intercom = accept_untrusted_intercom
        self.hive_map = HiveMapper(
            trust=identity.is_trusted if _has(identity, "is_trusted") else None
        )
        # protocol v3: pins and PSKs live in the identity when there is one, else in memory for
        # as long as this client lives; so does the static key (a hub pins it per access key).
        self.noise_store: NoiseKeyStore = (
            IdentityNoiseStore(identity, str(self.key))
            if IdentityNoiseStore.fits(identity)
            else MemoryNoiseStore(str(self.key))
        )
        self._own_noise_key: bytes | None = None
        self._core = SatelliteCore(
            SatelliteConfig(max_queue=max_queue, max_waiters=max_waiters),
            rng=random.Random(),  # backoff jitter; no security role
            hive_map=self.hive_map,
        )
        self._init_driver()

    def _init_driver(self) -> None:
        """The driver's own state (threads, queues, loops): set up by each driver."""

    # -- local buses ------------------------------------------------------------------------
    def bridge_bus(self, bus: Any) -> None:
        """Join another OVOS bus to the hub, as ``internal_bus`` is: the hub's bus messages are
        delivered to it too, and its messages for the hub (a ``destination`` naming the hub,
        ``hive.send.upstream``, everything with ``share_bus``) go up. For a node whose own
        ovos-core bus should talk to the hub; what the reference's ``connect(bus)`` does."""
        if bus is None or bus is self.internal_bus or any(b is bus for b in self._bridged):
            return
        self._listen_to(bus)
        self._bridged.append(bus)

    def _listen_to(self, bus: Any) -> None:
        """Forward ``bus``'s traffic for the hub upstream."""
        bus.on("message", self._forward_local)
        bus.on(UPSTREAM_REQUEST, self._send_upstream)

    def _forward_local(self, message: Any) -> None:
        """A local bus message: shared or sent up when it is for the hub (each driver)."""
        raise NotImplementedError

    def _send_upstream(self, message: Any) -> None:
        """A ``hive.send.upstream`` request on a local bus (each driver)."""
        raise NotImplementedError

    def _deliver_local(self, message: Message) -> None:
        """A bus message from the hub, onto every joined local bus."""
        for bus in (self.internal_bus, *self._bridged):
            bus.emit(for_bus(bus, message))

    def _wake_waiter(self, waiter: Waiter) -> None:
        """A ``wait_for_*`` has its answer: wake it (a thread event, a future, ...)."""
        raise NotImplementedError

    def _run_routed(self, outputs: list[Output]) -> None:
        """What routing one message from the hub asked for, in order (every driver)."""
        for output in outputs:
            if isinstance(output, WaiterMatched):
                self._wake_waiter(output.waiter)
            elif isinstance(output, RunHandlers):
                self._call_handlers(output.name, output.argument)
            elif isinstance(output, DeliverToBus):
                self._deliver_local(output.message)
            elif isinstance(output, BinaryReceived):
                deliver_binary(self.bin_callbacks, output.message)

    # -- connection -------------------------------------------------------------------------
    @property
    def websocket_connect_timeout(self) -> float | None:
        """The 1.2 client's name of :attr:`connect_timeout`."""
        return self.connect_timeout

    @websocket_connect_timeout.setter
    def websocket_connect_timeout(self, value: float | None) -> None:
        self.connect_timeout = value

    @property
    def websocket_ping_interval(self) -> float:
        """The 1.2 client's name of :attr:`ping_interval` (0: no pings; set to None: the default)."""
        return self.ping_interval

    @websocket_ping_interval.setter
    def websocket_ping_interval(self, value: float | None) -> None:
        if value is None:  # as in the constructor: the default
            self.ping_interval = DEFAULT_PING_INTERVAL
        else:
            self.ping_interval = _seconds("websocket_ping_interval", value)

    @property
    def websocket_ping_timeout(self) -> float | None:
        """The 1.2 client's name of :attr:`pong_timeout` (read as None: no deadline; set to 0: no
        deadline, to None: the default)."""
        return self.pong_timeout

    @websocket_ping_timeout.setter
    def websocket_ping_timeout(self, value: float | None) -> None:
        if value is None:  # as in the constructor: the default
            self.pong_timeout = DEFAULT_PONG_TIMEOUT
        else:
            self.pong_timeout = _seconds("websocket_ping_timeout", value) or None

    @property
    def url(self) -> str:
        """The hub URL (with the authorization query)."""
        return _build_url(self.host, self.port, self.useragent, str(self.key))

    @staticmethod
    def build_url(
        key: str,
        host: str = "127.0.0.1",
        port: int | None = 5678,
        useragent: str = DEFAULT_USERAGENT,
        ssl: bool = True,
    ) -> str:
        """The hub URL for ``key``, as the reference's static ``build_url`` (``wss`` unless
        ``ssl=False``; a scheme already in ``host`` wins)."""
        if "://" not in host:
            host = f"{'wss' if ssl else 'ws'}://{host}"
        return _build_url(host, port, useragent, key)

    @property
    def info(self) -> ConnectionInfo | None:
        """What the current (or last) session negotiated."""
        return self._core.info

    @property
    def router(self) -> SatelliteRouter | None:
        """The routing layer of the current session."""
        return self._core.router

    @property
    def session_id(self) -> str:
        """Our session id: one per client, kept across reconnects."""
        return self._core.config.session_id

    @property
    def hub_session(self) -> dict[str, Any] | None:
        """The session state the hub last returned for our session (``active_handlers``,
        ``converse_handlers``, ``response_mode``, ``intent_context``): sent back with every
        BUS message that has no session of its own."""
        return self._core.hub_session

    def open_mail(self, mail: Mail, sender_public_pem: str | None = None) -> HiveMessage:
        """The message inside collected RENDEZVOUS mail, opened with our identity's RSA key
        (its signature checked against ``sender_public_pem`` when given)."""
        private = _identity_value(self.identity, "private_key_pem")
        if not private:
            raise IdentityError("opening mail needs an identity with an RSA key")
        return open_mail(mail, str(private), sender_public_pem=sender_public_pem)

    @property
    def hub_pin_id(self) -> str:
        """Where the hub's v3 static key is pinned: ``host:port`` (the reference's pin id)."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port}"

    @property
    def protocol_version(self) -> int | None:
        """The protocol version of the current (or last) session: 1/2 legacy, 3 Noise."""
        return self.info.protocol_version if self.info else None

    @property
    def queued(self) -> int:
        """Messages waiting for the link to come back."""
        return self._core.queued

    def _satellite_config(self, noise_key: bytes) -> SatelliteConfig:
        previous = self._core.config
        return SatelliteConfig(
            password=self.password,
            crypto_key=self.crypto_key,
            site_id=self.site_id,
            useragent=self.useragent,
            session_id=previous.session_id,
            public_key_pem=_identity_value(self.identity, "public_key_pem"),
            private_key_pem=_identity_value(self.identity, "private_key_pem"),
            trust=self.identity if _has(self.identity, "is_trusted") else None,
            binarize=self.binarize,
            compress=self.compress,
            handshake_timeout=self.handshake_timeout,
            ciphers=self.ciphers,
            encodings=self.encodings,
            noise_static_key=noise_key,
            hub_pin_id=self.hub_pin_id,
            max_queue=previous.max_queue,
            max_waiters=previous.max_waiters,
            keepalive=self.ping_interval > 0,
            ping_interval=self.ping_interval,
            pong_timeout=self.pong_timeout,
            min_protocol_version=self.min_protocol_version,
            max_protocol_version=self.max_protocol_version,
            max_handshake_message=self.max_handshake_message,
            nonce_window=self.nonce_window,
            max_decoded_items=self.max_decoded_items,
            accept_untrusted_intercom=self.accept_untrusted_intercom,
            reconnect=self.reconnect,
            first_frame_timeout=self.connect_timeout or None,
            defer_link_key=True,  # PBKDF2 runs where the driver runs side effects
        )

    def _noise_private_key(self) -> bytes:
        """Our X25519 static key: the identity's, or one generated for this client."""
        if _has(self.identity, "noise_private_key"):
            key = self.identity.noise_private_key()
            if not isinstance(key, bytes) or len(key) != 32:
                raise IdentityError("the identity's Noise static key is not 32 bytes")
            return key
        if self._own_noise_key is None:
            self._own_noise_key = secrets.token_bytes(32)
        return self._own_noise_key


def lifecycle_events(output: Output) -> list[tuple[str, tuple[object, ...]]]:
    """The ``emitter`` events one core output means, in order (shared by every driver)."""
    if isinstance(output, Connected):
        return [("open", ())]
    if not isinstance(output, ConnectionEnded):
        return []
    events: list[tuple[str, tuple[object, ...]]] = [("close", ())]
    outcome = output.outcome
    if isinstance(outcome, Retry):
        events.append(("reconnecting", ()))
    elif isinstance(outcome, GiveUp) and _is_refusal(outcome):
        events.insert(0, ("auth_rejected", (str(outcome.reason),)))
    return events


def _is_refusal(outcome: GiveUp) -> bool:
    """The hub refused who we are (a wrong password, an unknown key, a refused static key)."""
    return isinstance(outcome.reason, HandshakeFailed) or outcome.close_code == _POLICY_VIOLATION


_POLICY_VIOLATION = 1008


def resolve_identity(identity: Any, app_name: str | None = None) -> Any:
    """The identity a client uses: the one given, else the identity file, as the reference does.

    Without an identity the client reads the shared ``<config>/hivemind/_identity.json`` (or,
    with ``app_name``, that application's own file, falling back to the shared one while it has
    none). Its Noise static key is kept there, so every client and every run with that identity
    presents the same key to a v3 hub, which pins the first key it sees per access key.
    """
    if identity is not None:
        if app_name is not None:
            raise InvalidArgument("pass identity=... or app_name=..., not both")
        return identity
    return NodeIdentity(app_name=app_name)


def _seconds(name: str, value: float) -> float:
    """``value`` as a duration in seconds, or InvalidArgument."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidArgument(f"{name} must be a number of seconds >= 0, not {value!r}")
    return float(value)


def _has(identity: Any, attribute: str) -> bool:
    return identity is not None and callable(getattr(identity, attribute, None))


def _identity_value(identity: Any, *names: str) -> Any:
    if identity is None:
        return None
    for name in names:
        value = getattr(identity, name, None)
        if value:
            return value
    return None
