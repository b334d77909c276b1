"""``HiveMessageBusClient``: the satellite API, a drop-in for the reference client's.

    with HiveMessageBusClient(key="...", password="...", host="127.0.0.1", port=5678) as client:
        info = client.connect(site_id="kitchen")          # raises a clear error, never retries forever
        client.on_mycroft("speak", lambda m: print(m.data["utterance"]))
        client.emit(Message("recognizer_loop:utterance", {"utterances": ["hello"]}))

Handlers run on a dispatcher thread, never on the socket's reader thread. Messages emitted while
the link is down (after it was up once) wait in a bounded queue and go out after the reconnect.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import secrets
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hivemind_client.core.events import (
    ConnectionClosed,
    ConnectionFailed,
    Event,
    HandshakeCompleted,
    HelloReceived,
    MessageDropped,
    MessageReceived,
)
from hivemind_client.core.session import (
    ClientSession,
    MemoryNoiseStore,
    NoiseKeyStore,
    SessionConfig,
)
from hivemind_client.errors import (
    ConnectionFailed as ConnectionFailedError,
)
from hivemind_client.errors import (
    HiveMindError,
    IdentityError,
    InvalidArgument,
    NotConnected,
    QueueFull,
    TooManyWaiters,
)
from hivemind_client.satellite.hivemap import HiveMapper
from hivemind_client.satellite.routing import DeliverToBus, Dispatch, Drop, Reply, SatelliteRouter
from hivemind_client.sync.transport import ReconnectPolicy, Transport, build_url
from hivemind_client.wire.message import HiveMessage, Message, MessageLike, as_ovos_dict
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

__all__ = [
    "DEFAULT_USERAGENT",
    "BinaryDataCallbacks",
    "ConnectionInfo",
    "HiveMessageBusClient",
    "LocalBus",
    "QueueFull",
    "TooManyWaiters",
]

LOG = logging.getLogger("hivemind_client")
DEFAULT_USERAGENT = "HiveMessageBusClientV0.0.1"
DEFAULT_RECONNECT = ReconnectPolicy()
Handler = Callable[[Any], None]
F = TypeVar("F", bound=Callable[..., Any])
_HIVE_TYPES = {t.value for t in HiveMessageType}


@dataclass(frozen=True)
class ConnectionInfo:
    """What ``connect()`` negotiated with the hub."""

    protocol_version: int
    handshake: str
    cipher: str | None
    encoding: str | None
    binarize: bool
    hub_node_id: str | None
    hub_peer: str | None


class LocalBus:
    """A minimal in-process OVOS-style bus: ``on``/``once``/``remove``/``emit`` by message type.

    ``on("message", handler)`` sees every message. Used when no ``internal_bus`` is given.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def on(self, msg_type: str, handler: Handler) -> None:
        """Call ``handler(message)`` for every message of this type."""
        with self._lock:
            self._handlers[msg_type].append(handler)

    def once(self, msg_type: str, handler: Handler) -> None:
        """Call ``handler`` for the next message of this type only."""

        def wrapper(message: Any) -> None:
            self.remove(msg_type, wrapper)
            handler(message)

        self.on(msg_type, wrapper)

    def remove(self, msg_type: str, handler: Handler) -> None:
        """Stop calling ``handler`` for this type."""
        with self._lock, contextlib.suppress(ValueError):
            self._handlers[msg_type].remove(handler)

    def emit(self, message: Any) -> None:
        """Deliver to the handlers of its type, then to the catch-all ``message`` handlers."""
        with self._lock:
            handlers = list(self._handlers.get(message.msg_type, ())) + list(
                self._handlers.get("message", ())
            )
        for handler in handlers:
            try:
                handler(message)
            except Exception:
                LOG.exception("bus handler for %s failed", message.msg_type)


class BinaryDataCallbacks:
    """Override the methods for the BINARY payloads a satellite cares about."""

    def handle_receive_tts(
        self, bin_data: bytes, utterance: str, lang: str, file_name: str
    ) -> None:
        """Synthesized speech arrived (TTS_AUDIO)."""

    def handle_receive_file(self, bin_data: bytes, file_name: str) -> None:
        """A file arrived (FILE)."""

    def handle_unknown(self, message: HiveMessage) -> None:
        """Any other BINARY subtype."""


class _Waiter:
    __slots__ = ("event", "matches", "result")

    def __init__(self, matches: Callable[[Any], bool]) -> None:
        self.matches = matches
        self.event = threading.Event()
        self.result: Any = None


class HiveMessageBusClient:
    """A HiveMind satellite connection: handshake, messages both ways, reconnects."""

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
        reconnect: ReconnectPolicy | None = DEFAULT_RECONNECT,
        ping_interval: float = 20.0,
        ciphers: Sequence[str] | None = None,
        encodings: Sequence[str] | None = None,
    ) -> None:
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
        self.internal_bus = internal_bus if internal_bus is not None else LocalBus()
        self.bin_callbacks = bin_callbacks or BinaryDataCallbacks()
        self.handshake_timeout = handshake_timeout
        self.reconnect = reconnect
        self.ping_interval = ping_interval
        self.ciphers = tuple(ciphers) if ciphers else None
        self.encodings = tuple(encodings) if encodings else None
        self.info: ConnectionInfo | None = None
        self._max_queue = max_queue
        self._max_waiters = max_waiters
        self._queue: deque[HiveMessage] = deque()
        self._queue_lock = threading.Lock()
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._handlers_lock = threading.Lock()
        self._waiters: list[_Waiter] = []
        self._waiters_lock = threading.Lock()
        # Bounded: when handlers fall behind, the reader thread blocks on put, stops reading the
        # socket, and TCP pushes back on the hub instead of memory growing without limit.
        self._dispatch: queue.Queue[Callable[[], None] | None] = queue.Queue(
            maxsize=max_pending_handlers
        )
        self._dispatch_stopping = False
        self._flush_lock = threading.Lock()
        self._dispatcher: threading.Thread | None = None
        self._transport: Transport | None = None
        self._ready = threading.Event()
        self._failed: HiveMindError | None = None
        self._hello: HelloReceived | None = None
        self._closed = False
        self.session_id = str(uuid.uuid4())  # one per client, kept across reconnects
        self.hive_map = HiveMapper(
            trust=identity.is_trusted if _has(identity, "is_trusted") else None
        )
        self.router: SatelliteRouter | None = None
        # protocol v3: pins and PSKs live in the identity when there is one, else in memory for
        # as long as this client lives; so does the static key (a hub pins it per access key).
        self.noise_store: NoiseKeyStore = (
            _IdentityNoiseStore(identity, str(self.key))
            if _is_noise_identity(identity)
            else MemoryNoiseStore(str(self.key))
        )
        self._own_noise_key: bytes | None = None
        self._noise_key: bytes | None = None
        self._session: ClientSession | None = None
        if share_bus:
            self.internal_bus.on("message", self._share)

    # -- connection -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The hub URL (with the authorization query)."""
        return build_url(self.host, self.port, self.useragent, str(self.key))

    @property
    def connected(self) -> bool:
        """True while the session is established."""
        return self._transport is not None and self._transport.ready

    @property
    def hub_pin_id(self) -> str:
        """Where the hub's v3 static key is pinned: ``host:port`` (the reference's pin id)."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port}"

    @property
    def protocol_version(self) -> int | None:
        """The protocol version of the current (or last) session: 1/2 legacy, 3 Noise."""
        return self.info.protocol_version if self.info else None

    def connect(self, site_id: str | None = None, timeout: float = 15.0) -> ConnectionInfo:
        """Connect and complete the handshake; raise a clear HiveMindError if that fails.

        ``info.protocol_version`` says what was negotiated: 1 (2 with binary frames) with a
        legacy hub, 3 (Noise) with hivemind-core 5.x. A v3 attempt that failed with a cached
        PSK or with KKpsk0 is retried once at once, with the PSK derived again and XXpsk2.
        """
        if self._transport is not None:
            raise InvalidArgument("already connected; close() first")
        if site_id:
            self.site_id = site_id
        self._noise_key = self._noise_private_key()
        deadline = time.monotonic() + timeout
        retried = False
        while True:
            try:
                return self._connect_once(deadline, timeout)
            except HiveMindError as error:
                session = self._session
                worth_retrying = session is not None and (
                    session.kk_rejected or session.stale_psk_dropped
                )
                if retried or not worth_retrying or self._closed:
                    raise
                if time.monotonic() >= deadline:
                    raise
                retried = True
                LOG.info("retrying the v3 handshake once: %s", error)

    def _connect_once(self, deadline: float, timeout: float) -> ConnectionInfo:
        self._closed = False
        self._failed = None
        self.info = None
        self._ready.clear()
        self._start_dispatcher()
        self._transport = Transport(
            self.url,
            self._new_session,
            self._on_event,
            self_signed=self.self_signed,
            certificate_sha256=self.certificate_sha256,
            ping_interval=self.ping_interval,
            reconnect=self.reconnect,
        )
        self._transport.start()
        while not self._ready.wait(0.05):
            if self._failed is not None:
                error, self._failed = self._failed, None
                self._stop_transport()
                raise error
            if time.monotonic() >= deadline:
                self._stop_transport()
                raise ConnectionFailedError(f"no session with {self.host} within {timeout:g} s")
        if self.info is None:  # pragma: no cover - set before _ready
            raise ConnectionFailedError("handshake finished without details")
        return self.info

    def _new_session(self, now: float) -> ClientSession:
        config = SessionConfig(
            password=self.password,
            crypto_key=self.crypto_key,
            site_id=self.site_id,
            session_id=self.session_id,
            public_key_pem=_identity_value(self.identity, "public_key_pem"),
            binarize=self.binarize,
            compress=self.compress,
            handshake_timeout=self.handshake_timeout,
            noise_static_key=self._noise_key,
            noise_store=self.noise_store,
            hub_pin_id=self.hub_pin_id,
            # after a KKpsk0 the hub closed, run XXpsk2 once: it says what went wrong
            allow_kk=not (self._session is not None and self._session.kk_rejected),
        )
        if self.ciphers:
            config.ciphers = self.ciphers
        if self.encodings:
            config.encodings = self.encodings
        session = ClientSession(config, now=now)
        self._session = session
        return session

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

    def close(self) -> None:
        """Close the connection and stop every thread this client started."""
        self._closed = True
        self._stop_transport()
        if self._dispatcher is not None:
            self._dispatch_stopping = True  # seen after the job in hand if the queue is full
            with contextlib.suppress(queue.Full):
                self._dispatch.put(None, timeout=1)
            if self._dispatcher is not threading.current_thread():
                self._dispatcher.join(5)
            self._dispatcher = None
        with self._waiters_lock:
            for waiter in self._waiters:
                waiter.event.set()

    def _stop_transport(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        self._ready.clear()

    def __enter__(self) -> HiveMessageBusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events from the transport (reader thread) -----------------------------------------------
    def _on_event(self, event: Event) -> None:
        if isinstance(event, HelloReceived):
            self._hello = event
        elif isinstance(event, HandshakeCompleted):
            hello = self._hello
            self.info = ConnectionInfo(
                event.protocol_version,
                event.handshake,
                event.cipher,
                event.encoding,
                event.binarize,
                hello.node_id if hello else None,
                hello.peer if hello else None,
            )
            self.router = self._new_router(hello)
            self._flush_queue()
            self._ready.set()
            self._dispatch_event("connected", self.info)
        elif isinstance(event, MessageReceived):
            self._dispatch.put(lambda: self._handle_message(event.message))
        elif isinstance(event, MessageDropped):
            LOG.warning("dropped a frame from the hub: %s (%s)", event.error, event.error.code)
        elif isinstance(event, ConnectionFailed):
            LOG.warning("connection failed: %s (%s)", event.error, event.error.code)
            self._ready.clear()
            if self.info is None:  # connect() is still waiting: hand it the reason
                self._failed = event.error
            self._dispatch_event("failed", event.error)
        elif isinstance(event, ConnectionClosed):
            self._ready.clear()
            self._dispatch_event("disconnected", event)

    def _new_router(self, hello: HelloReceived | None) -> SatelliteRouter:
        """The routing layer for this session (the hub tells us our peer id and its key)."""
        return SatelliteRouter(
            peer=(hello.peer if hello and hello.peer else f"{self.useragent}::{self.session_id}"),
            public_key_pem=_identity_value(self.identity, "public_key_pem"),
            private_key_pem=_identity_value(self.identity, "private_key_pem"),
            site_id=self.site_id,
            trust=self.identity if _has(self.identity, "is_trusted") else None,
            hub_public_key=hello.public_key if hello else None,
            session_id=self.session_id,
            mapper=self.hive_map,
        )

    def _flush_queue(self) -> None:
        """Send what waited for the link, in order. One flush at a time: the reader thread
        (after a reconnect) and emit() may both try, and each must not resend the other's head."""
        with self._flush_lock:
            transport = self._transport
            while transport is not None:
                with self._queue_lock:
                    if not self._queue:
                        return
                    message = self._queue[0]
                try:
                    transport.send(message)
                except NotConnected:
                    return
                with self._queue_lock:
                    self._queue.popleft()

    # -- sending ------------------------------------------------------------------------------
    def emit(
        self, message: HiveMessage | MessageLike, binary_type: BinaryPayloadType | int | None = None
    ) -> None:
        """Send a HiveMessage, or an OVOS message as BUS (routing context added as the reference does)."""
        if not isinstance(message, HiveMessage):
            message = HiveMessage(HiveMessageType.BUS, as_ovos_dict(message))
        if binary_type is not None and message.msg_type is HiveMessageType.BINARY:
            message = HiveMessage(
                HiveMessageType.BINARY,
                message.raw_payload,
                bin_type=binary_type,
                metadata=message.metadata,
            )
        if message.msg_type is HiveMessageType.BUS:
            self._add_routing_context(message)
        self._send_or_queue(message)

    def emit_mycroft(self, message: MessageLike) -> None:
        """Send an OVOS message as BUS."""
        self.emit(message)

    def emit_intercom(self, message: HiveMessage | MessageLike, pubkey: str) -> None:
        """Send ``message`` end-to-end encrypted for the node whose RSA public key is ``pubkey``."""
        from hivemind_client.security.intercom import seal_intercom

        inner = (
            message
            if isinstance(message, HiveMessage)
            else HiveMessage(HiveMessageType.BUS, as_ovos_dict(message))
        )
        sender = _identity_value(self.identity, "private_key_pem")
        envelope = seal_intercom(inner.serialize(), pubkey, sender_private_pem=sender)
        intercom = HiveMessage(HiveMessageType.INTERCOM, envelope, target_pubkey=pubkey)
        self._send_or_queue(HiveMessage(HiveMessageType.PROPAGATE, intercom))

    def _send_or_queue(self, message: HiveMessage) -> None:
        transport = self._transport
        if transport is None or (not transport.established_once and not transport.ready):
            raise NotConnected("connect() first")
        with self._queue_lock:
            pending = bool(self._queue)
            if not pending:
                try:
                    transport.send(message)
                    return
                except NotConnected:
                    pass
            if len(self._queue) >= self._max_queue:
                raise QueueFull(f"{len(self._queue)} messages already wait for the reconnect")
            self._queue.append(message)
        if transport.ready:
            self._flush_queue()

    @property
    def queued(self) -> int:
        """Messages waiting for the link to come back."""
        with self._queue_lock:
            return len(self._queue)

    def _add_routing_context(self, message: HiveMessage) -> None:
        payload = message.raw_payload
        if not isinstance(payload, dict):
            return
        context = payload.setdefault("context", {})
        context.setdefault("source", self.useragent)
        context.setdefault("platform", self.useragent)
        context.setdefault("destination", "HiveMind")
        session = context.setdefault("session", {})
        if isinstance(session, dict):
            session.setdefault("session_id", self.session_id)
            session.setdefault("site_id", self.site_id)

    def _share(self, message: Any) -> None:
        if isinstance(message, str):
            message = Message.deserialize(message)
        with contextlib.suppress(NotConnected, QueueFull):
            self._send_or_queue(HiveMessage(HiveMessageType.SHARED_BUS, as_ovos_dict(message)))

    # -- receiving ----------------------------------------------------------------------------
    def _handle_message(self, message: HiveMessage) -> None:
        """Route one message from the hub (dispatcher thread): bus, handlers, replies."""
        self._resolve_waiters(message)
        if message.msg_type is HiveMessageType.BINARY:
            self._handle_binary(message)
        router = self.router or self._new_router(self._hello)
        for action in router.handle(message, time.time()):
            if isinstance(action, DeliverToBus):
                self.internal_bus.emit(action.message)
                self._resolve_waiters(action.message)
            elif isinstance(action, Dispatch):
                self._call_handlers(action.event, action.message)
            elif isinstance(action, Reply):
                with contextlib.suppress(NotConnected, QueueFull):
                    self._send_or_queue(action.message)
            elif isinstance(action, Drop):
                LOG.info("dropped %s from the hub: %s", message.msg_type.value, action.reason)
        self._call_handlers("message", message)

    def _handlers_for(self, name: str) -> list[Handler]:
        with self._handlers_lock:
            return list(self._handlers.get(name, ()))

    def _call_handlers(
        self, name: str, argument: Any, handlers: list[Handler] | None = None
    ) -> None:
        """Run the handlers for ``name`` now (on the dispatcher thread); one failing does not stop the rest."""
        for handler in self._handlers_for(name) if handlers is None else handlers:
            try:
                handler(argument)
            except Exception:
                LOG.exception("handler for %s failed", name)

    def _handle_binary(self, message: HiveMessage) -> None:
        data, meta = message.raw_payload, message.metadata
        if not isinstance(data, bytes):  # BINARY messages always carry bytes
            return
        if message.bin_type == BinaryPayloadType.TTS_AUDIO:
            self.bin_callbacks.handle_receive_tts(
                data, meta.get("utterance", ""), meta.get("lang", ""), meta.get("file_name", "")
            )
        elif message.bin_type == BinaryPayloadType.FILE:
            self.bin_callbacks.handle_receive_file(data, meta.get("file_name", ""))
        else:
            self.bin_callbacks.handle_unknown(message)

    def _dispatch_event(self, name: str, argument: Any) -> None:
        """Hand the handlers registered for ``name`` now to the dispatcher thread."""
        handlers = self._handlers_for(name)
        if handlers:
            self._dispatch.put(lambda: self._call_handlers(name, argument, handlers))

    def _start_dispatcher(self) -> None:
        if self._dispatcher is not None:
            return
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="hivemind-dispatcher", daemon=True
        )
        self._dispatcher.start()

    def _dispatch_loop(self) -> None:
        while True:
            job = self._dispatch.get()
            if job is None or self._dispatch_stopping:
                return
            try:
                job()
            except Exception:
                LOG.exception("handler failed")

    # -- handler registration -----------------------------------------------------------------
    def on(self, event_name: str | HiveMessageType, func: Handler) -> None:
        """Handle a HiveMessageType (wire string or enum) or, for any other name, an OVOS message type."""
        name = _type_name(event_name)
        if name in _HIVE_TYPES or name in ("message", "connected", "disconnected", "failed"):
            with self._handlers_lock:
                self._handlers[name].append(func)
        else:
            self.on_mycroft(name, func)

    def once(self, event_name: str | HiveMessageType, func: Handler) -> None:
        """Like ``on``, for the next occurrence only."""

        def wrapper(argument: Any) -> None:
            self.remove(event_name, wrapper)
            func(argument)

        self.on(event_name, wrapper)

    def remove(self, event_name: str | HiveMessageType, func: Handler) -> None:
        """Undo ``on``/``once``."""
        name = _type_name(event_name)
        with self._handlers_lock, contextlib.suppress(ValueError):
            self._handlers[name].remove(func)
        if name not in _HIVE_TYPES:
            self.internal_bus.remove(name, func)

    def on_mycroft(self, mycroft_msg_type: str, func: Handler) -> None:
        """Handle OVOS messages of this type arriving from the hub (on the internal bus)."""
        self.internal_bus.on(mycroft_msg_type, func)

    def _decorator(self, name: str) -> Callable[[F], F]:
        def register(func: F) -> F:
            self.on(name, func)
            return func

        return register

    def on_mycroft_message(self, msg_type: str) -> Callable[[F], F]:
        """Decorator: ``@client.on_mycroft_message("speak")``."""
        return self._decorator(msg_type)

    def on_hive_message(self, msg_type: str | HiveMessageType = "message") -> Callable[[F], F]:
        """Decorator for a HiveMessageType (or every message with no argument)."""
        return self._decorator(
            str(msg_type.value if isinstance(msg_type, HiveMessageType) else msg_type)
        )

    def on_broadcast(self) -> Callable[[F], F]:
        """Decorator for BROADCAST messages."""
        return self._decorator("broadcast")

    def on_propagate(self) -> Callable[[F], F]:
        """Decorator for PROPAGATE messages."""
        return self._decorator("propagate")

    def on_escalate(self) -> Callable[[F], F]:
        """Decorator for ESCALATE messages."""
        return self._decorator("escalate")

    def on_query(self) -> Callable[[F], F]:
        """Decorator for QUERY messages."""
        return self._decorator("query")

    def on_cascade(self) -> Callable[[F], F]:
        """Decorator for CASCADE messages."""
        return self._decorator("cascade")

    def on_ping(self) -> Callable[[F], F]:
        """Decorator for PING messages."""
        return self._decorator("ping")

    def on_shared_bus(self) -> Callable[[F], F]:
        """Decorator for SHARED_BUS messages."""
        return self._decorator("shared_bus")

    # -- waiting ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _waiting(self, matches: Callable[[Any], bool]) -> Iterator[_Waiter]:
        waiter = _Waiter(matches)
        with self._waiters_lock:
            if len(self._waiters) >= self._max_waiters:
                raise TooManyWaiters(f"{len(self._waiters)} waits are already pending")
            self._waiters.append(waiter)
        try:
            yield waiter
        finally:
            with self._waiters_lock, contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _resolve_waiters(self, item: Any) -> None:
        with self._waiters_lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            if not waiter.event.is_set():
                try:
                    matched = waiter.matches(item)
                except Exception:
                    matched = False
                if matched:
                    waiter.result = item
                    waiter.event.set()

    def _wait(
        self,
        matches: Callable[[Any], bool],
        timeout: float,
        send: HiveMessage | MessageLike | None = None,
    ) -> Any:
        with self._waiting(matches) as waiter:
            if send is not None:
                self.emit(send)
            waiter.event.wait(timeout)
            return waiter.result

    def wait_for_message(
        self, message_type: str | HiveMessageType, timeout: float = 3.0
    ) -> HiveMessage | None:
        """The next HiveMessage of this type, or None after ``timeout`` seconds."""
        wanted = _type_name(message_type)
        found = self._wait(
            lambda m: isinstance(m, HiveMessage) and m.msg_type.value == wanted, timeout
        )
        return found if isinstance(found, HiveMessage) else None

    def wait_for_mycroft(self, mycroft_msg_type: str, timeout: float = 3.0) -> Message | None:
        """The next OVOS message of this type arriving from the hub, or None."""
        found = self._wait(
            lambda m: isinstance(m, Message) and m.msg_type == mycroft_msg_type, timeout
        )
        return found if isinstance(found, Message) else None

    def wait_for_response(
        self,
        message: HiveMessage | MessageLike,
        reply_type: str | None = None,
        timeout: float = 3.0,
    ) -> Message | HiveMessage | None:
        """Send ``message`` and wait for its reply (default ``<type>.response``, or the same HiveMessageType)."""
        if isinstance(message, HiveMessage):
            hive_wanted = reply_type or message.msg_type.value
            found = self._wait(
                lambda m: isinstance(m, HiveMessage) and m.msg_type.value == hive_wanted,
                timeout,
                message,
            )
        else:
            bus_wanted = reply_type or f"{message.msg_type}.response"
            found = self._wait(
                lambda m: isinstance(m, Message) and m.msg_type == bus_wanted, timeout, message
            )
        return found if isinstance(found, Message | HiveMessage) else None

    def wait_for_payload(
        self,
        payload_type: str,
        message_type: str | HiveMessageType = HiveMessageType.THIRDPRTY,
        timeout: float = 3.0,
    ) -> HiveMessage | None:
        """The next HiveMessage of ``message_type`` whose payload has ``msg_type`` or ``type`` == ``payload_type``."""
        found = self._wait(_payload_matcher(message_type, payload_type), timeout)
        return found if isinstance(found, HiveMessage) else None

    def wait_for_payload_response(
        self,
        message: HiveMessage,
        payload_type: str,
        message_type: str | HiveMessageType = HiveMessageType.THIRDPRTY,
        timeout: float = 3.0,
    ) -> HiveMessage | None:
        """Send ``message`` and wait as ``wait_for_payload`` does."""
        found = self._wait(_payload_matcher(message_type, payload_type), timeout, message)
        return found if isinstance(found, HiveMessage) else None


class _IdentityNoiseStore:
    """The v3 NoiseKeyStore on a NodeIdentity: pins in the identity, PSKs in its cache file.

    Writes are best effort: a pin or PSK that cannot be saved is logged and the session goes
    on (the pin is then taken again, on first use, at the next connection).
    """

    def __init__(self, identity: Any, access_key: str) -> None:
        self.identity = identity
        self.access_key = access_key

    def pinned_hub_key(self, pin_id: str) -> bytes | None:
        return _key_bytes(self.identity.pinned_hub(pin_id))

    def pin_hub_key(self, pin_id: str, key: bytes) -> None:
        try:
            self.identity.pin_hub(pin_id, key.hex())
        except IdentityError as exc:
            LOG.warning("could not save the hub key pinned for %s: %s", pin_id, exc)

    def cached_psk(self, hub_node_id: str) -> bytes | None:
        return _key_bytes(self.identity.cached_psk(hub_node_id, self.access_key))

    def cache_psk(self, hub_node_id: str, psk: bytes) -> None:
        try:
            self.identity.cache_psk(hub_node_id, self.access_key, psk.hex())
        except IdentityError as exc:
            LOG.debug("could not cache the PSK: %s", exc)

    def forget_psk(self, hub_node_id: str) -> None:
        try:
            self.identity.forget_psk(hub_node_id, self.access_key)
        except IdentityError as exc:
            LOG.debug("could not drop the cached PSK: %s", exc)


def _is_noise_identity(identity: Any) -> bool:
    names = ("pinned_hub", "pin_hub", "cached_psk", "cache_psk", "forget_psk")
    return all(_has(identity, name) for name in names)


def _key_bytes(value: Any) -> bytes | None:
    """32 bytes from 64 hex digits, or None for anything else."""
    if not isinstance(value, str) or len(value) != 64:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _type_name(message_type: str | HiveMessageType) -> str:
    return str(message_type.value if isinstance(message_type, HiveMessageType) else message_type)


def _payload_matcher(
    message_type: str | HiveMessageType, payload_type: str
) -> Callable[[Any], bool]:
    wanted = _type_name(message_type)
    return (
        lambda m: isinstance(m, HiveMessage)
        and m.msg_type.value == wanted
        and _payload_kind(m) == payload_type
    )


def _payload_kind(message: HiveMessage) -> Any:
    payload = message.raw_payload
    if not isinstance(payload, dict):
        return None
    return payload.get("msg_type", payload.get("type"))


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
