"""The satellite core: everything a satellite does on its hub connections, without I/O.

One :class:`SatelliteCore` per client, living across reconnects. It owns a
:class:`~hivemind_client.core.session.ClientSession` per connection, the outgoing queue and its
bound, the ``wait_for_*`` waiters and their matching, the routing of every message from the
hub (:class:`~hivemind_client.satellite.routing.SatelliteRouter`), keepalive pings, the
:class:`ConnectionInfo` and the reconnect decisions. A driver (threads, asyncio, ...) moves
bytes and time in and out and carries out the outputs::

    core.connection_opened(now)                       # a socket is up: a new session
    core.receive_message(data, now, wall)             # str for text frames, bytes for binary
    for output in core.outputs(): ...                 # see the Output union below
    for data in core.data_to_send(): ws.send(data)
    core.handle_timer(now) when now >= core.next_timer()
    core.connection_lost(code, reason, now)           # the socket closed
    frames = core.send(message)                       # write them, or core.send_failed(message)

The core holds no lock: a driver that calls it from several threads serializes the calls.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from hivemind_client.core.events import (
    ConnectionClosed,
    HandshakeCompleted,
    HelloReceived,
    MessageDropped,
    MessageReceived,
    SessionFailed,
)
from hivemind_client.core.links import DEFAULT_NONCE_WINDOW
from hivemind_client.core.reconnect import (
    ConnectionEnd,
    GiveUp,
    Outcome,
    RandomSource,
    ReconnectPolicy,
    ReconnectSchedule,
)
from hivemind_client.core.requests import Request
from hivemind_client.core.session import (
    DEFAULT_MAX_HANDSHAKE_MESSAGE,
    ClientSession,
    SessionConfig,
)
from hivemind_client.errors import (
    ConnectionFailed,
    HiveMindError,
    InvalidArgument,
    NotConnected,
    QueueFull,
    TooManyWaiters,
)
from hivemind_client.satellite.hivemap import HiveMapper
from hivemind_client.satellite.routing import (
    QUERY_STREAM_END,
    DeliverToBus,
    Dispatch,
    Drop,
    Reply,
    SatelliteRouter,
    TrustStore,
    upstream_of_local,
)
from hivemind_client.security.hivemind_noise import PROTOCOL_VERSION
from hivemind_client.security.intercom import seal_intercom
from hivemind_client.wire.codec import DEFAULT_MAX_DECODED_ITEMS
from hivemind_client.wire.message import HiveMessage, Message, MessageLike, as_ovos_dict
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

__all__ = [
    "BinaryReceived",
    "CloseConnection",
    "Connected",
    "ConnectionEnded",
    "MessageArrived",
    "ConnectionInfo",
    "Output",
    "PerformRequest",
    "RunHandlers",
    "SatelliteConfig",
    "SatelliteCore",
    "SendPing",
    "Waiter",
    "WaiterMatched",
]

LOG = logging.getLogger(__name__)


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


@dataclass
class SatelliteConfig:
    """Who we are and how we behave; one per client."""

    password: str | None = None
    crypto_key: bytes | None = None
    site_id: str = "unknown"
    useragent: str = "HiveMessageBusClientV0.0.1"
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    """One per client, kept across reconnects."""
    public_key_pem: str | None = None
    private_key_pem: str | None = None
    trust: TrustStore | None = None
    binarize: bool = True
    compress: bool | None = None
    handshake_timeout: float = 10.0
    ciphers: tuple[str, ...] | None = None
    encodings: tuple[str, ...] | None = None
    noise_static_key: bytes | None = None
    hub_pin_id: str = "hub"
    max_queue: int = 1000
    max_waiters: int = 1000
    keepalive: bool = True
    """The transport has ping/pong (websockets). False (HTTP polling): the core never asks
    for a ping and never times one out; every poll already tells the driver the hub is alive."""
    ping_interval: float = 20.0
    """Seconds of silence from the hub before we ping it."""
    pong_timeout: float | None = 10.0
    """Seconds our ping may go unanswered (no pong, no message) before the link is torn down
    and retried: a frozen hub is noticed within ``ping_interval + pong_timeout``. None: never."""
    min_protocol_version: int = 0
    """Refuse hubs below this protocol version (3: Noise only). A hub whose v3 key is pinned
    is never spoken to below v3, whatever this says."""
    max_protocol_version: int = PROTOCOL_VERSION
    """2: stay on the legacy handshake even with a hub that offers Noise."""
    max_handshake_message: int = DEFAULT_MAX_HANDSHAKE_MESSAGE
    """Largest message accepted before the link is keyed (a hub's HELLO is under 2 KB)."""
    nonce_window: int = DEFAULT_NONCE_WINDOW
    """v1: nonces remembered per direction to refuse replays and reflections (0: off)."""
    max_decoded_items: int = DEFAULT_MAX_DECODED_ITEMS
    """JSON values one decoded message may hold: the bound on what a small frame can cost."""
    accept_untrusted_intercom: bool = False
    """Deliver INTERCOM to the local bus even when its signer is not trusted (not advised)."""
    dropped_frame_warnings: int = 10
    """Frames dropped with a warning per minute; beyond that they are counted, then summarized."""
    defer_link_key: bool = False
    """Ask for the v1 session key as a request (PBKDF2 off the driver's loop or lock)."""
    reconnect: ReconnectPolicy | None = field(default_factory=ReconnectPolicy)
    first_frame_timeout: float | None = None
    """Seconds the hub has, once the socket is open, to send its first message (its HELLO or
    handshake): a hub that completes the websocket upgrade and then says nothing is given up
    on sooner than ``handshake_timeout`` (``connection-failed``). None, or not shorter than
    ``handshake_timeout``: only ``handshake_timeout`` bounds it."""
    query_timeout: float = 30.0
    """Seconds a QUERY we sent may go without an answer chunk before ``hive.query.timeout``
    is delivered to the bus (every chunk restarts it; 0: never)."""


# -- outputs: what the driver must do ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerformRequest:
    """Fulfil a side-effect request (``identity.stores.perform``); feed a PSK back."""

    request: Request


@dataclass(frozen=True, slots=True)
class SendPing:
    """Send a websocket ping (keepalive)."""


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake completed: wake ``connect()``, then send what waits (``take_queued``)."""

    info: ConnectionInfo


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """The session cannot go on: close the socket with ``code``."""

    code: int


@dataclass(frozen=True, slots=True)
class ConnectionEnded:
    """The connection is over: connect again after ``outcome.delay``, or stop."""

    outcome: Outcome


@dataclass(frozen=True, slots=True)
class MessageArrived:
    """A message from the hub: call ``route`` with it where handlers run (in arrival order).

    ``size`` is what it cost on the wire (every websocket message it took), so a driver can
    bound the bytes waiting for its handlers."""

    message: HiveMessage
    size: int = 0


@dataclass(frozen=True, slots=True)
class RunHandlers:
    """Call the application's handlers registered for ``name`` with ``argument``."""

    name: str
    argument: Any


@dataclass(frozen=True, slots=True)
class BinaryReceived:
    """A BINARY message arrived: hand it to the binary callbacks."""

    message: HiveMessage


@dataclass(frozen=True, slots=True)
class WaiterMatched:
    """A ``wait_for_*`` call has its answer in ``waiter.result``: wake it."""

    waiter: Waiter


Output: TypeAlias = (
    PerformRequest
    | SendPing
    | Connected
    | CloseConnection
    | ConnectionEnded
    | MessageArrived
    | RunHandlers
    | DeliverToBus
    | BinaryReceived
    | WaiterMatched
)


class Waiter:
    """One pending ``wait_for_*`` call: a predicate, the driver's wake-up token, the result."""

    __slots__ = ("matched", "matches", "result", "token")

    def __init__(self, matches: Callable[[Any], bool], token: Any) -> None:
        self.matches = matches
        self.token = token
        self.result: Any = None
        self.matched = False


SESSION_STATE_FIELDS = ("active_handlers", "converse_handlers", "response_mode", "intent_context")
"""What of the hub's session record is ours to keep and send back (OVOS-SESSION-1 §2.1)."""

_NORMAL_CLOSURE = 1000
_GOING_AWAY = 1001
_DROP_WINDOW = 60.0


class SatelliteCore:
    """The behaviour of one satellite client, across its connections (see the module doc)."""

    def __init__(
        self, config: SatelliteConfig, *, rng: RandomSource, hive_map: HiveMapper | None = None
    ) -> None:
        self.config = config
        self._rng = rng
        self.hive_map = hive_map or HiveMapper(
            trust=config.trust.is_trusted if config.trust is not None else None
        )
        self.info: ConnectionInfo | None = None
        self.router: SatelliteRouter | None = None
        self.session: ClientSession | None = None
        self._schedule = ReconnectSchedule(config.reconnect)
        self._queue: deque[HiveMessage] = deque()
        self._waiters: list[Waiter] = []
        self._outputs: deque[Output] = deque()
        self._outgoing: deque[str | bytes] = deque()
        self._hello: HelloReceived | None = None
        self._avoid_kk = False
        self._stopping = False
        self._established_at: float | None = None
        self._last_traffic = 0.0
        self._opened_at = 0.0
        self._heard = False  # the hub sent something since the socket opened
        self._ping_sent_at: float | None = None  # an unanswered ping
        self._incoming_size = 0  # wire bytes of the message being received
        self._drop_window = (0.0, 0, 0)  # (window start, warned, suppressed)
        self._fatal = False
        self._timed_out = False
        self._failure: SessionFailed | None = None
        self._override: tuple[HiveMindError, int | None] | None = None
        self._closed_code: int | None = None  # the hub's close code for an established link
        self.hub_session: dict[str, Any] | None = None
        """The session state the hub last returned for our session id (sent back with every
        BUS message that carries no session of its own)."""
        self._query_deadline: float | None = None
        self._query_id = ""

    # -- life ---------------------------------------------------------------------------------
    def start(self, *, persistent: bool = False) -> None:
        """A new ``connect()``: forget the previous run's decisions and stop request.

        ``persistent`` (a client started in the background): keep retrying until a first
        session, as after one; a refusal still ends the run (see :class:`ReconnectSchedule`).
        """
        self._schedule = ReconnectSchedule(self.config.reconnect, persistent=persistent)
        self._stopping = False
        self.info = None

    def stop(self) -> None:
        """The client is closing: whatever ends next, do not reconnect."""
        self._stopping = True

    @property
    def established_once(self) -> bool:
        """A handshake completed since ``start``."""
        return self._schedule.established_once or self.info is not None

    @property
    def ready(self) -> bool:
        """True while a session is established."""
        return self.session is not None and self.session.ready

    def connection_opened(self, now: float, *, pinned_hub_key: bytes | None = None) -> None:
        """A socket to the hub is open: start a new session on it."""
        config = SessionConfig(
            password=self.config.password,
            crypto_key=self.config.crypto_key,
            site_id=self.config.site_id,
            session_id=self.config.session_id,
            public_key_pem=self.config.public_key_pem,
            private_key_pem=self.config.private_key_pem,
            binarize=self.config.binarize,
            compress=self.config.compress,
            handshake_timeout=self.config.handshake_timeout,
            noise_static_key=self.config.noise_static_key,
            pinned_hub_key=pinned_hub_key,
            hub_pin_id=self.config.hub_pin_id,
            allow_kk=not self._avoid_kk,
            min_protocol_version=self.config.min_protocol_version,
            max_protocol_version=self.config.max_protocol_version,
            max_handshake_message=self.config.max_handshake_message,
            nonce_window=self.config.nonce_window,
            max_decoded_items=self.config.max_decoded_items,
            defer_link_key=self.config.defer_link_key,
        )
        if self.config.ciphers:
            config.ciphers = self.config.ciphers
        if self.config.encodings:
            config.encodings = self.config.encodings
        self.session = ClientSession(config, now=now)
        self._hello = None
        self._established_at = None
        self._last_traffic = now
        self._opened_at = now
        self._heard = False
        self._ping_sent_at = None
        self._incoming_size = 0
        self._fatal = self._timed_out = False
        self._failure = None
        self._override = None
        self._closed_code = None

    def connection_failed(self, error: HiveMindError, *, final: bool = False) -> None:
        """No socket could be opened. ``final``: retrying cannot help (a certificate pin)."""
        if final or not self.established_once:
            self._report_failure(error)
        else:
            LOG.info("cannot connect: %s", error)
        if final:
            self._outputs.append(ConnectionEnded(GiveUp(error)))
            return
        end = ConnectionEnd(failure=error, stopping=self._stopping)
        self._outputs.append(ConnectionEnded(self._decide(end)))

    def receive_message(self, data: str | bytes, now: float, wall: float) -> None:
        """One websocket message from the hub. ``wall`` is the wall clock, for PING stamps."""
        session = self.session
        if session is None or session.closed:
            return
        self._last_traffic = now
        self._heard = True
        self._ping_sent_at = None
        self._incoming_size += len(data)
        session.receive_message(data, now)
        self._pump(now, wall)

    def pong_received(self, now: float) -> None:
        """The hub answered a ping: it is alive, even if it has nothing to say."""
        self._ping_sent_at = None

    def receive_psk(self, psk: bytes, *, cached: bool, now: float, wall: float) -> None:
        """The result of a :class:`~hivemind_client.core.requests.DerivePsk` request."""
        if self.session is not None:
            self.session.receive_psk(psk, cached=cached, now=now)
            self._pump(now, wall)

    def receive_link_key(self, key: bytes, *, now: float, wall: float) -> None:
        """The result of a :class:`~hivemind_client.core.requests.DeriveLinkKey` request."""
        if self.session is not None:
            self.session.receive_link_key(key, now=now)
            self._pump(now, wall)

    def connection_lost(
        self,
        code: int | None,
        reason: str,
        now: float,
        *,
        error: HiveMindError | None = None,
        close_code: int | None = None,
    ) -> None:
        """The socket closed. ``error``/``close_code``: the driver's own reason (a frame over
        ``max_message_size``, a bug below us), which replaces the session's "connection lost"."""
        session = self.session
        if session is None:
            return
        if error is not None:
            self._override = (error, close_code if close_code is not None else code)
            self._report_failure(error)
        if not session.closed and not self._stopping:
            session.connection_lost(code, reason, now)
        self._pump(now, now, closing=True)
        self._end(now)

    def next_timer(self) -> float | None:
        """When ``handle_timer`` must run next (None: nothing scheduled)."""
        session = self.session
        if session is None or session.closed:
            return None
        deadlines = [session.next_timer(), self.connection_deadline(), self._query_deadline]
        if session.ready and self.config.keepalive:
            deadlines.append(self._last_traffic + self.config.ping_interval)
        due = [deadline for deadline in deadlines if deadline is not None]
        return min(due) if due else None

    def max_incoming(self, limit: int) -> int:
        """The largest websocket message to accept now: ``limit``, or the handshake bound
        while the link is not keyed yet (a driver checks it before reading a frame)."""
        session = self.session
        if session is None or session.ready:
            return limit
        return min(limit, session.config.max_handshake_message)

    def connection_deadline(self) -> float | None:
        """When the connection ends unless the hub completes what it owes (the handshake, or
        an answer to our ping). A driver enforces it even in the middle of a frame that
        trickles in byte by byte: past it, :meth:`handle_timer` ends the connection."""
        session = self.session
        if session is None or session.closed:
            return None
        if not session.ready:
            due = [d for d in (session.next_timer(), self._first_frame_deadline()) if d is not None]
            return min(due) if due else None
        timeout = self.config.pong_timeout
        if self._ping_sent_at is None or timeout is None:
            return None
        return self._ping_sent_at + timeout

    def handle_timer(self, now: float, wall: float) -> None:
        """Fire what is due: the session's deadlines, the keepalive ping."""
        session = self.session
        if session is None or session.closed:
            return
        first_frame = self._first_frame_deadline()
        if first_frame is not None and now >= first_frame:
            timeout = self.config.first_frame_timeout
            self._timed_out = True  # retried as a handshake that timed out is
            self._tear_down(
                ConnectionFailed(
                    f"the hub sent nothing within {timeout:g} s of the socket opening"
                ),
                now,
            )
            return
        deadline = session.next_timer()
        if deadline is not None and now >= deadline:
            session.handle_timer(now)
            self._timed_out = not session.ready
        silent = self.connection_deadline()
        if session.ready and silent is not None and now >= silent:
            self._hub_went_silent(now)
            return
        if self._query_deadline is not None and now >= self._query_deadline:
            self._query_timed_out()
        if (
            session.ready
            and self.config.keepalive
            and now - self._last_traffic >= self.config.ping_interval
        ):
            self._outputs.append(SendPing())
            self._last_traffic = now
            if self._ping_sent_at is None:
                self._ping_sent_at = now
        self._pump(now, wall)

    def _query_timed_out(self) -> None:
        """No answer chunk for ``query_timeout`` seconds: say so on the bus, as a hub at the top
        of the chain would (one code path for "nobody answered")."""
        query_id, self._query_id, self._query_deadline = self._query_id, "", None
        LOG.warning(
            "no QUERY answer within %g s (query_id=%r)", self.config.query_timeout, query_id
        )
        timeout = Message("hive.query.timeout", {"query_id": query_id, "error": "no_answer"})
        out: list[Output] = [DeliverToBus(timeout)]
        self._resolve_waiters(timeout, out)
        self._outputs.extend(out)

    def _track_answers(self, message: HiveMessage) -> None:
        """A QUERY answer chunk restarts the timer; the end of the stream or the mesh's own
        timeout stops it."""
        if message.msg_type is not HiveMessageType.QUERY or self._query_deadline is None:
            return
        inner: Any = message.raw_payload
        if isinstance(inner, dict):  # the nested message as it came off the wire
            inner = inner.get("payload")
        elif isinstance(inner, HiveMessage):
            inner = inner.raw_payload
        kind = inner.get("type") if isinstance(inner, dict) else None
        if kind in (QUERY_STREAM_END, "hive.query.timeout"):
            self._query_deadline, self._query_id = None, ""
            return
        query_id = message.metadata.get("query_id")
        if isinstance(query_id, str) and query_id:
            self._query_id = query_id
        self._query_deadline = self._last_traffic + self.config.query_timeout

    def _remember_session(self, message: Any) -> None:
        """Keep the session state the hub sent for our own session id."""
        context = getattr(message, "context", None)
        carrier = context.get("session") if isinstance(context, dict) else None
        if isinstance(carrier, dict) and carrier.get("session_id") == self.config.session_id:
            self.hub_session = {
                **{k: copy.deepcopy(carrier[k]) for k in SESSION_STATE_FIELDS if k in carrier},
                "session_id": self.config.session_id,
                "site_id": self.config.site_id,
            }

    def _first_frame_deadline(self) -> float | None:
        """When a hub that has sent nothing since the socket opened is given up on."""
        timeout = self.config.first_frame_timeout
        session = self.session
        if self._heard or not timeout or session is None:
            return None
        deadline = self._opened_at + timeout
        handshake = session.next_timer()
        if handshake is not None and deadline >= handshake:
            return None  # the handshake deadline comes first and says more (handshake-failed)
        return deadline

    def _hub_went_silent(self, now: float) -> None:
        """No pong and no message since our ping: the hub (or the path to it) is frozen."""
        self._tear_down(
            ConnectionFailed(
                f"the hub answered neither our ping nor anything else for"
                f" {self.config.pong_timeout:g} s: the link is torn down and retried"
            ),
            now,
        )

    def _tear_down(self, error: HiveMindError, now: float) -> None:
        """End this connection from our side for ``error`` (going away), and decide what next."""
        session = self.session
        if session is None:
            return
        self._override = (error, None)
        self._report_failure(error)
        session.connection_lost(None, str(error), now)
        self._pump(now, now, closing=True)
        self._outputs.append(CloseConnection(_GOING_AWAY))
        self._end(now)

    def outputs(self) -> list[Output]:
        """Everything the driver must do now, in order."""
        out = list(self._outputs)
        self._outputs.clear()
        return out

    def data_to_send(self) -> list[str | bytes]:
        """Protocol messages to write now (handshake, HELLO, automatic replies), in order."""
        out = list(self._outgoing)
        self._outgoing.clear()
        return out

    # -- sending ------------------------------------------------------------------------------
    def prepare(
        self,
        message: HiveMessage | MessageLike,
        binary_type: BinaryPayloadType | int | None = None,
        *,
        now: float | None = None,
        wall: float | None = None,
    ) -> HiveMessage:
        """What ``emit`` sends: OVOS messages as BUS with the routing context the reference adds.

        ``now`` (the driver's monotonic clock) arms the answer timer of a QUERY; ``wall``
        drops an expired ``response_mode`` from the hub's session state."""
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
            self._add_routing_context(message, wall)
        elif (
            message.msg_type is HiveMessageType.QUERY
            and now is not None
            and self.config.query_timeout > 0
        ):
            self._query_deadline = now + self.config.query_timeout
            self._query_id = ""
        return message

    def intercom(self, message: HiveMessage | MessageLike, pubkey: str) -> HiveMessage:
        """``message`` sealed end to end for the node whose RSA key is ``pubkey``, in PROPAGATE."""
        inner = (
            message
            if isinstance(message, HiveMessage)
            else HiveMessage(HiveMessageType.BUS, as_ovos_dict(message))
        )
        envelope = seal_intercom(
            inner.serialize(), pubkey, sender_private_pem=self.config.private_key_pem
        )
        intercom = HiveMessage(HiveMessageType.INTERCOM, envelope, target_pubkey=pubkey)
        return HiveMessage(HiveMessageType.PROPAGATE, intercom)

    def upstream_of_local(self, message: Any, *, share_bus: bool) -> list[HiveMessage]:
        """What a message seen on the local bus sends to the hub (see
        :func:`~hivemind_client.satellite.routing.upstream_of_local`): its hub is the one of
        the latest session."""
        hub = self.info.hub_node_id if self.info is not None else None
        return upstream_of_local(message, share_bus=share_bus, hub_node_id=hub)

    def send(self, message: HiveMessage) -> list[str | bytes]:
        """The websocket messages to write for ``message`` now; [] when it was queued instead.

        Raises NotConnected before the first connection, QueueFull when the queue is full, and
        InvalidArgument when ``message`` cannot be encoded. If writing the result fails, give
        the message back with :meth:`send_failed`.
        """
        if not self.established_once and not self.ready:
            raise NotConnected("connect() first")
        session = self.session
        if not self._queue and session is not None and session.ready:
            session.send(message)
            return self._with_pending(session.messages_to_send())
        self._enqueue(message)
        return []

    def send_failed(self, message: HiveMessage) -> None:
        """Writing ``message`` failed (the link broke): it goes out after the reconnect."""
        self._enqueue(message)

    def take_queued(self) -> tuple[HiveMessage, list[str | bytes]] | None:
        """The oldest queued message and its websocket messages, if the link is up.

        A queued message that cannot be encoded any more is dropped and logged, so one bad
        message never blocks the rest. Put it back with :meth:`requeue` if writing fails.
        """
        session = self.session
        while self._queue and session is not None and session.ready:
            message = self._queue.popleft()
            try:
                session.send(message)
            except HiveMindError as error:
                LOG.warning("dropped a queued %s message: %s", message.msg_type.value, error)
                continue
            return message, self._with_pending(session.messages_to_send())
        return None

    def _with_pending(self, frames: list[str | bytes]) -> list[str | bytes]:
        """Protocol messages not yet taken (our HELLO, a PING answer) go out first."""
        if not self._outgoing:
            return frames
        pending = list(self._outgoing)
        self._outgoing.clear()
        return pending + frames

    def requeue(self, message: HiveMessage) -> None:
        """Give back what :meth:`take_queued` returned: it stays first in line."""
        self._queue.appendleft(message)

    @property
    def queued(self) -> int:
        """Messages waiting for the link to come back."""
        return len(self._queue)

    def _enqueue(self, message: HiveMessage) -> None:
        if len(self._queue) >= self.config.max_queue:
            raise QueueFull(f"{len(self._queue)} messages already wait for the reconnect")
        self._queue.append(message)

    def _send_internal(self, message: HiveMessage) -> None:
        """An automatic message (a PING answer): now if the link is up, else queued."""
        session = self.session
        try:
            if not self._queue and session is not None and session.ready:
                session.send(message)
                self._outgoing.extend(session.messages_to_send())
            else:
                self._enqueue(message)
        except (NotConnected, QueueFull, InvalidArgument) as error:
            LOG.info("could not send an automatic %s: %s", message.msg_type.value, error)

    def _add_routing_context(self, message: HiveMessage, wall: float | None = None) -> None:
        payload = message.raw_payload
        if not isinstance(payload, dict):
            return
        context = payload.setdefault("context", {})
        context.setdefault("source", self.config.useragent)
        context.setdefault("platform", self.config.useragent)
        context.setdefault("destination", "HiveMind")
        if not context.get("session"):
            # we are the authority for our own session: send back the state the hub returned
            # last, so active handlers, converse and response_mode survive to the next turn
            state = copy.deepcopy(self.hub_session or {})
            mode = state.get("response_mode")
            if isinstance(mode, dict) and wall is not None:
                expires = mode.get("expires_at")
                if isinstance(expires, int | float) and expires <= wall:
                    del state["response_mode"]  # an expired response mode is inert
            context["session"] = state
        session = context["session"]
        if isinstance(session, dict):
            session.setdefault("session_id", self.config.session_id)
            session.setdefault("site_id", self.config.site_id)

    # -- waiting ------------------------------------------------------------------------------
    def add_waiter(self, matches: Callable[[Any], bool], token: Any = None) -> Waiter:
        """Register a ``wait_for_*`` call (bounded by ``max_waiters``)."""
        if len(self._waiters) >= self.config.max_waiters:
            raise TooManyWaiters(f"{len(self._waiters)} waits are already pending")
        waiter = Waiter(matches, token)
        self._waiters.append(waiter)
        return waiter

    def remove_waiter(self, waiter: Waiter) -> None:
        """The wait is over (answered or timed out)."""
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def waiters(self) -> Sequence[Waiter]:
        """The pending waits (a driver wakes them all when the client closes)."""
        return tuple(self._waiters)

    def _resolve_waiters(self, item: Any, out: list[Output]) -> None:
        for waiter in self._waiters:
            if waiter.matched:
                continue
            try:
                matched = bool(waiter.matches(item))
            except Exception:  # a predicate that fails on this item simply does not match
                matched = False
            if matched:
                waiter.result, waiter.matched = item, True
                out.append(WaiterMatched(waiter))

    # -- what the session reported -------------------------------------------------------------
    def _pump(self, now: float, wall: float, *, closing: bool = False) -> None:
        session = self.session
        if session is None:
            return
        for request in session.requests():
            self._outputs.append(PerformRequest(request))
        for event in session.events():
            if isinstance(event, HelloReceived):
                self._hello = event
            elif isinstance(event, HandshakeCompleted):
                self._incoming_size = 0  # what the handshake took is nobody's message
                self._on_established(event, now)
            elif isinstance(event, MessageReceived):
                self._outputs.append(MessageArrived(event.message, self._incoming_size))
                self._incoming_size = 0
            elif isinstance(event, MessageDropped):
                self._incoming_size = 0
                self._warn_dropped(event.error, now)
            elif isinstance(event, SessionFailed):
                self._failure = event
                self._avoid_kk = self._avoid_kk or event.avoid_kk
                if self._override is None:  # the driver's own reason was reported instead
                    self._report_failure(event.error)
            elif isinstance(event, ConnectionClosed):
                self._closed_code = event.code  # 4003 (a kick) and 1000 read differently
                self._outputs.append(RunHandlers("disconnected", event))
        self._outgoing.extend(session.messages_to_send())
        if session.closed and not closing:
            # the session gave up on its own (a refused handshake, a timeout, a broken v3
            # link), not because the socket closed: close the socket, and decide what's next
            self._fatal = True
            self._outputs.append(CloseConnection(_NORMAL_CLOSURE))
            self._end(now)

    def _warn_dropped(self, error: HiveMindError, now: float) -> None:
        """One warning per dropped frame, up to a limit per minute: a flood of garbage must
        not flood the log (the rest are counted and summarized)."""
        start, warned, suppressed = self._drop_window
        if now - start >= _DROP_WINDOW:
            if suppressed:
                LOG.warning("dropped %d more frames from the hub in the last minute", suppressed)
            start, warned, suppressed = now, 0, 0
        if warned < self.config.dropped_frame_warnings:
            LOG.warning("dropped a frame from the hub: %s (%s)", error, error.code)
            warned += 1
        else:
            suppressed += 1
        self._drop_window = (start, warned, suppressed)

    def _report_failure(self, error: HiveMindError) -> None:
        LOG.warning("connection failed: %s (%s)", error, error.code)
        self._outputs.append(RunHandlers("failed", error))

    def _on_established(self, event: HandshakeCompleted, now: float) -> None:
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
        self._established_at = now
        self._outputs.append(Connected(self.info))
        self._outputs.append(RunHandlers("connected", self.info))

    def _new_router(self, hello: HelloReceived | None) -> SatelliteRouter:
        """The routing layer for this session (the hub tells us our peer id and its key)."""
        peer = hello.peer if hello and hello.peer else None
        return SatelliteRouter(
            peer=peer or f"{self.config.useragent}::{self.config.session_id}",
            public_key_pem=self.config.public_key_pem,
            private_key_pem=self.config.private_key_pem,
            site_id=self.config.site_id,
            trust=self.config.trust,
            hub_public_key=hello.public_key if hello else None,
            session_id=self.config.session_id,
            mapper=self.hive_map,
            accept_untrusted_intercom=self.config.accept_untrusted_intercom,
        )

    def route(self, message: HiveMessage, wall: float) -> list[Output]:
        """What one message from the hub means, in order: waiters to wake, binary callbacks,
        bus deliveries and handlers to run. Automatic replies (PING answers) go to
        :meth:`data_to_send`. ``wall`` is the wall clock (PING timestamps, the hive map)."""
        out: list[Output] = []
        self._resolve_waiters(message, out)
        if message.msg_type is HiveMessageType.BINARY:
            out.append(BinaryReceived(message))
        router = self.router or self._new_router(self._hello)
        self._track_answers(message)
        for action in router.handle(message, wall):
            if isinstance(action, DeliverToBus):
                self._remember_session(action.message)
                out.append(action)
                self._resolve_waiters(action.message, out)
            elif isinstance(action, Dispatch):
                out.append(RunHandlers(action.event, action.message))
            elif isinstance(action, Reply):
                self._send_internal(action.message)
            elif isinstance(action, Drop):
                LOG.info("dropped %s from the hub: %s", message.msg_type.value, action.reason)
        out.append(RunHandlers("message", message))
        return out

    def _end(self, now: float) -> None:
        """The connection is over: decide what comes next."""
        session, self.session = self.session, None
        if session is None:
            return
        failure = self._failure
        error = failure.error if failure is not None else None
        code = failure.close_code if failure is not None else self._closed_code
        if self._override is not None:
            error, code = self._override
        if self._stopping:
            closed = ConnectionClosed(_NORMAL_CLOSURE, "closed by the client")
            self._outputs.append(RunHandlers("disconnected", closed))
        end = ConnectionEnd(
            failure=error,
            close_code=code,
            established=self._established_at is not None,
            lasted=now - self._established_at if self._established_at is not None else 0.0,
            fatal=self._fatal,
            timed_out=self._timed_out,
            retry_now=failure.retry_now if failure is not None else False,
            stopping=self._stopping,
        )
        self._outputs.append(ConnectionEnded(self._decide(end)))

    def _decide(self, end: ConnectionEnd) -> Outcome:
        outcome = self._schedule.decide(end, self._rng)
        reason = outcome.reason
        if isinstance(outcome, GiveUp) and reason is not None and reason is not end.failure:
            self._report_failure(reason)  # "gave up after N reconnect attempts"
        return outcome
