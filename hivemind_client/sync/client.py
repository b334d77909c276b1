"""``HiveMessageBusClient``: the satellite API, a drop-in for the reference client's.

    with HiveMessageBusClient(key="...", password="...", host="127.0.0.1", port=5678) as client:
        info = client.connect(site_id="kitchen")          # raises a clear error, never retries forever
        client.on_mycroft("speak", lambda m: print(m.data["utterance"]))
        client.emit(Message("recognizer_loop:utterance", {"utterances": ["hello"]}))

The behaviour (handshakes, queueing while the link is down, routing, waiters, reconnect
decisions) is the :class:`~hivemind_client.satellite.core.SatelliteCore`'s; this module is the
threaded glue: a :class:`~hivemind_client.sync.transport.Transport` reader thread, and a
dispatcher thread on which handlers run, never on the socket's reader thread.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hivemind_client.core.reconnect import GiveUp, ReconnectPolicy
from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import (
    HiveMindError,
    IdentityError,
    InvalidArgument,
    NotConnected,
    QueueFull,
    TooManyWaiters,
)
from hivemind_client.identity.stores import IdentityNoiseStore, MemoryNoiseStore, NoiseKeyStore
from hivemind_client.satellite.core import (
    BinaryReceived,
    Connected,
    ConnectionEnded,
    ConnectionInfo,
    MessageArrived,
    Output,
    RunHandlers,
    SatelliteConfig,
    SatelliteCore,
    Waiter,
    WaiterMatched,
)
from hivemind_client.satellite.hivemap import HiveMapper
from hivemind_client.satellite.routing import DeliverToBus, SatelliteRouter
from hivemind_client.sync.transport import Transport, build_url
from hivemind_client.wire.message import HiveMessage, Message, MessageLike
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

LOG = logging.getLogger(__name__)
DEFAULT_USERAGENT = "HiveMessageBusClientV0.0.1"
DEFAULT_RECONNECT = ReconnectPolicy()
Handler = Callable[[Any], None]
F = TypeVar("F", bound=Callable[..., Any])
_HIVE_TYPES = {t.value for t in HiveMessageType}
_CLIENT_EVENTS = ("message", "connected", "disconnected", "failed")


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
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._handlers_lock = threading.Lock()
        self._max_pending_handlers = max_pending_handlers
        self._dispatch: queue.Queue[Callable[[], None] | None] = queue.Queue(max_pending_handlers)
        self._dispatcher: threading.Thread | None = None
        self._transport: Transport | None = None
        self._ready = threading.Event()
        self._ended = threading.Event()
        self._gave_up: HiveMindError | None = None
        self._closed = False
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
        self._lock = threading.RLock()  # the core's lock while no transport exists
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
        noise_key = self._noise_private_key()
        with self._lock:
            self._core.config = self._satellite_config(noise_key)
            self._core.start()
        self._closed = False
        self._gave_up = None
        self._ready.clear()
        self._ended.clear()
        self._start_dispatcher()
        self._transport = Transport(
            self.url,
            self._core,
            self._on_outputs,
            store=self.noise_store,
            self_signed=self.self_signed,
            certificate_sha256=self.certificate_sha256,
        )
        self._lock = self._transport.lock
        self._transport.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self._ended.is_set():
                error = self._gave_up or ConnectionFailedError("the connection ended")
                self._stop_transport()
                raise error
            if time.monotonic() >= deadline:
                self._stop_transport()
                raise ConnectionFailedError(f"no session with {self.host} within {timeout:g} s")
        info = self.info
        if info is None:  # pragma: no cover - set before _ready
            raise ConnectionFailedError("handshake finished without details")
        return info

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
            ping_interval=self.ping_interval,
            reconnect=self.reconnect,
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

    def close(self) -> None:
        """Close the connection and stop every thread this client started."""
        self._closed = True
        with self._lock:
            self._core.stop()
        self._stop_transport()
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            with contextlib.suppress(queue.Full):
                self._dispatch.put(None, timeout=1)
            if dispatcher is not threading.current_thread():
                dispatcher.join(5)
        with self._lock:
            waiters = self._core.waiters()
        for waiter in waiters:
            waiter.token.set()

    def _stop_transport(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        self._ready.clear()

    def __enter__(self) -> HiveMessageBusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the core asks for (reader thread) ---------------------------------------------------
    def _on_outputs(self, outputs: list[Output]) -> None:
        work: list[tuple[Output, list[Handler]]] = []
        for output in outputs:
            if isinstance(output, WaiterMatched):
                output.waiter.token.set()
            elif isinstance(output, Connected):
                self._ready.set()
            elif isinstance(output, ConnectionEnded):
                self._ready.clear()
                if isinstance(output.outcome, GiveUp):
                    self._gave_up = output.outcome.reason
                    self._ended.set()
            elif isinstance(output, RunHandlers):
                # the handlers registered now run, even if one is removed before the job
                work.append((output, self._handlers_for(output.name)))
            elif isinstance(output, MessageArrived):
                work.append((output, []))
        if work:
            # Bounded: when handlers fall behind, the reader thread blocks here, stops reading
            # the socket, and TCP pushes back on the hub instead of memory growing without limit.
            self._dispatch.put(lambda: self._run_work(work))

    def _run_work(self, work: list[tuple[Output, list[Handler]]]) -> None:
        """On the dispatcher: messages are routed here, in order, then their handlers run."""
        for output, handlers in work:
            if isinstance(output, RunHandlers):
                self._call_handlers(output.name, output.argument, handlers)
            elif isinstance(output, MessageArrived):
                transport = self._transport
                if transport is not None:
                    self._run_routed(transport.route(output.message))
                else:  # closing: still deliver what arrived before the close
                    with self._lock:
                        routed = self._core.route(output.message, time.time())
                    self._run_routed(routed)

    def _run_routed(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, WaiterMatched):
                output.waiter.token.set()
            elif isinstance(output, RunHandlers):
                self._call_handlers(output.name, output.argument)
            elif isinstance(output, DeliverToBus):
                self.internal_bus.emit(output.message)
            elif isinstance(output, BinaryReceived):
                self._handle_binary(output.message)

    # -- sending ------------------------------------------------------------------------------
    def emit(
        self, message: HiveMessage | MessageLike, binary_type: BinaryPayloadType | int | None = None
    ) -> None:
        """Send a HiveMessage, or an OVOS message as BUS (routing context added as the reference does)."""
        self._send_or_queue(self._core.prepare(message, binary_type))

    def emit_mycroft(self, message: MessageLike) -> None:
        """Send an OVOS message as BUS."""
        self.emit(message)

    def emit_intercom(self, message: HiveMessage | MessageLike, pubkey: str) -> None:
        """Send ``message`` end-to-end encrypted for the node whose RSA public key is ``pubkey``."""
        self._send_or_queue(self._core.intercom(message, pubkey))

    def _send_or_queue(self, message: HiveMessage) -> None:
        transport = self._transport
        if transport is None:
            raise NotConnected("connect() first")
        with contextlib.suppress(NotConnected):  # the write failed: the core queued it
            transport.send(message)

    @property
    def queued(self) -> int:
        """Messages waiting for the link to come back."""
        with self._lock:
            return self._core.queued

    def _share(self, message: Any) -> None:
        with contextlib.suppress(NotConnected, QueueFull):
            self._send_or_queue(self._core.shared_bus_message(message))

    # -- receiving ----------------------------------------------------------------------------
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

    def _start_dispatcher(self) -> None:
        if self._dispatcher is not None:
            return
        # a fresh queue: a stop marker left by an earlier close() must not end this dispatcher
        self._dispatch = queue.Queue(self._max_pending_handlers)
        jobs = self._dispatch
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, args=(jobs,), name="hivemind-dispatcher", daemon=True
        )
        self._dispatcher.start()

    @staticmethod
    def _dispatch_loop(jobs: queue.Queue[Callable[[], None] | None]) -> None:
        while True:
            job = jobs.get()
            if job is None:
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
    def _waiting(self, matches: Callable[[Any], bool]) -> Iterator[Waiter]:
        with self._lock:
            waiter = self._core.add_waiter(matches, threading.Event())
        try:
            yield waiter
        finally:
            with self._lock:
                self._core.remove_waiter(waiter)

    def _wait(
        self,
        matches: Callable[[Any], bool],
        timeout: float,
        send: HiveMessage | MessageLike | None = None,
    ) -> Any:
        with self._waiting(matches) as waiter:
            if send is not None:
                self.emit(send)
            waiter.token.wait(timeout)
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
