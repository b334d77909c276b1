"""The threaded half of a client, shared by the threaded drivers (websocket, HTTP polling).

A transport (a :class:`Transport`: a reader or poller thread around the core) moves bytes;
this class runs a dispatcher thread on which messages are routed and handlers run, never on
the transport's thread, and offers ``connect``, ``emit``, ``wait_for_*`` and ``close``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from hivemind_client.api.base import ClientBase, lifecycle_events
from hivemind_client.api.handlers import (
    Handler,
    message_of_type,
    mycroft_message_of_type,
    payload_matcher,
    response_matcher,
)
from hivemind_client.core.reconnect import GiveUp
from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import (
    HiveMindError,
    InvalidArgument,
    NotConnected,
    QueueFull,
)
from hivemind_client.satellite import rendezvous
from hivemind_client.satellite.core import (
    Connected,
    ConnectionEnded,
    ConnectionInfo,
    MessageArrived,
    Output,
    RunHandlers,
    Waiter,
    WaiterMatched,
)
from hivemind_client.satellite.routing import (
    UPSTREAM_REQUEST,
    DeliverToBus,
    upstream_request,
)
from hivemind_client.wire.message import HiveMessage, Message, MessageLike
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

__all__ = ["ThreadedClient", "Transport"]

LOG = logging.getLogger(__name__)
_C = TypeVar("_C", bound="ThreadedClient")


class _Job:
    """Work for the dispatcher, and the wire bytes it holds until it has run."""

    __slots__ = ("run", "size")

    def __init__(self, run: Callable[[], None], size: int = 0) -> None:
        self.run = run
        self.size = size


class _Emit:
    """An ``emitter`` event, run on the dispatcher in order with the messages around it."""

    __slots__ = ("args", "event")

    def __init__(self, event: str, args: tuple[object, ...]) -> None:
        self.event = event
        self.args = args


class Transport(Protocol):
    """What a threaded driver offers the client: one per ``connect()``."""

    lock: threading.RLock
    """Held around every call into the core: the client takes it too."""
    _thread: threading.Thread | None
    """The driver's thread once started (``run_in_thread`` returns it)."""

    @property
    def ready(self) -> bool:
        """True while a session is established."""

    def start(self) -> None:
        """Start connecting in the background."""

    def send(self, message: HiveMessage) -> None:
        """Send now, or leave it queued in the core (NotConnected if the write failed)."""

    def route(self, message: HiveMessage) -> list[Output]:
        """Route one message from the hub and write the automatic replies it caused."""

    def close(self, timeout: float = 5.0) -> None:
        """Stop reconnecting, end the connection, wait up to ``timeout`` s for the driver's
        threads."""


class ThreadedClient(ClientBase):
    """A HiveMind satellite connection: handshake, messages both ways, reconnects.

    Everything but the transport: a driver subclass says how to reach the hub in
    :meth:`_new_transport`.
    """

    AUTH_REJECTED_CLOSE_CODE = 1008
    """The close code with which a hub refuses credentials (before a session exists)."""

    def _init_driver(self) -> None:
        self._dispatch: queue.Queue[_Job] = queue.Queue(self._max_pending_handlers)
        self._dispatcher: threading.Thread | None = None
        self._dispatch_stop = threading.Event()
        self._pending = threading.Condition()  # guards _pending_bytes
        self._pending_bytes = 0
        self._transport: Transport | None = None
        self._lock = threading.RLock()  # the core's lock while no transport exists
        self._ready = threading.Event()
        self._ended = threading.Event()
        self._gave_up: HiveMindError | None = None
        self._closed = False
        self._echoing = threading.local()  # our own BUS message on the internal bus: not shared
        self._rendezvous = threading.Lock()  # one RENDEZVOUS request at a time: replies carry no id
        self._listen_to(self.internal_bus)

    @property
    def connected(self) -> bool:
        """True while the session is established."""
        return self._transport is not None and self._transport.ready

    @property
    def started_running(self) -> bool:
        """True once ``connect``/``run_in_thread`` started the connection (an OVOS bus's flag)."""
        return self._transport is not None

    def connect(self, site_id: str | None = None, timeout: float = 15.0) -> ConnectionInfo:
        """Connect and complete the handshake; raise a clear HiveMindError if that fails.

        ``info.protocol_version`` says what was negotiated: 1 (2 with binary frames) with a
        legacy hub, 3 (Noise) with hivemind-core 5.x. A v3 attempt that failed with a cached
        PSK or with KKpsk0 is retried once at once, with the PSK derived again and XXpsk2.
        ``connected_event`` is set when this returns.
        """
        if self._transport is not None:
            raise InvalidArgument("already connected; close() first")
        if site_id:
            self.site_id = site_id
        self._start()
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

    def run_in_thread(self) -> threading.Thread:
        """Start connecting in the background and return at once (an OVOS bus's method).

        ``connected_event`` is set once the session is established; ``emitter`` reports
        ``open``, ``close``, ``reconnecting`` and ``auth_rejected``. Unlike ``connect()``, it
        keeps trying until a hub answers (a service started before its hub, or before the
        network), with the reconnect backoff; a refusal (``auth_rejected``) ends the run.
        """
        if self._transport is None:
            self._start(persistent=True)
        thread = self._transport._thread if self._transport is not None else None
        if thread is None:  # pragma: no cover - _start always starts it
            raise ConnectionFailedError("the connection did not start")
        return thread

    def run_forever(self) -> None:
        """Connect (unless already started; retrying as ``run_in_thread`` does) and block until
        the client is closed or gives up."""
        if self._transport is None:
            self._start(persistent=True)
        while not self._closed and not self._ended.wait(0.1):
            pass

    def wait_for_handshake(self, timeout: float = 5.0, max_retries: int | None = None) -> bool:
        """Wait until a session is established; False after ``timeout`` seconds (the
        reference's method; ``max_retries`` is accepted for it and not needed here, where
        a refused handshake ends the attempt instead of being retried)."""
        del max_retries
        return self._ready.wait(timeout)

    @property
    def stopping(self) -> bool:
        """True once ``close()`` was called: nothing will be reconnected."""
        return self._closed

    def flush(self, timeout: float = 5.0) -> bool:
        """True: ``emit`` writes before it returns (or queues for the reconnect), so nothing
        is pending in a sender (an OVOS bus's method)."""
        del timeout
        return True

    def close_connection(self) -> None:
        """Drop the current connection and reconnect (``close()`` stops for good)."""
        drop = getattr(self._transport, "drop", None)  # the HTTP driver has no connection to drop
        if callable(drop):
            drop()

    def _start(self, *, persistent: bool = False) -> None:
        noise_key = self._noise_private_key()
        with self._lock:
            self._core.config = self._satellite_config(noise_key)
            self._core.start(persistent=persistent)
        self._closed = False
        self._gave_up = None
        self._ready.clear()
        self._ended.clear()
        self._start_dispatcher()
        self._transport = self._new_transport()
        self._lock = self._transport.lock
        self._transport.start()

    def _new_transport(self) -> Transport:
        """The driver for one ``connect()``, built on ``self._core`` and ``self._on_outputs``."""
        raise NotImplementedError

    def close(self, timeout: float = 5.0) -> None:
        """Close the connection and stop every thread this client started, waiting up to
        ``timeout`` seconds for each (the reference's ``close(timeout=)``)."""
        self._closed = True
        with self._lock:
            self._core.stop()
        self._stop_transport(timeout)
        dispatcher, self._dispatcher = self._dispatcher, None
        self._dispatch_stop.set()  # after the job in hand; close() may run inside a handler
        with self._pending:
            self._pending.notify_all()
        if dispatcher is not None and dispatcher is not threading.current_thread():
            dispatcher.join(timeout)
        with self._lock:
            waiters = self._core.waiters()
        for waiter in waiters:
            waiter.token.set()

    def _stop_transport(self, timeout: float = 5.0) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close(timeout)
        self._ready.clear()
        self.connected_event.clear()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the core asks for (reader thread) ---------------------------------------------------
    def _on_outputs(self, outputs: list[Output]) -> None:
        work: list[tuple[Output | _Emit, list[Handler]]] = []
        for output in outputs:
            events: list[tuple[Output | _Emit, list[Handler]]] = [
                (_Emit(name, args), []) for name, args in lifecycle_events(output)
            ]
            if isinstance(output, WaiterMatched):
                self._wake_waiter(output.waiter)
            elif isinstance(output, Connected):
                self._ready.set()
                self.connected_event.set()
                work.extend(events)
            elif isinstance(output, ConnectionEnded):
                self._ready.clear()
                self.connected_event.clear()
                work.extend(events)
                if isinstance(output.outcome, GiveUp):
                    self._gave_up = output.outcome.reason
                    self._ended.set()
            elif isinstance(output, RunHandlers):
                # the handlers registered now run, even if one is removed before the job
                work.append((output, self._handlers_for(output.name)))
            elif isinstance(output, MessageArrived | DeliverToBus):
                work.append((output, []))
        if work:
            size = sum(o.size for o, _ in work if isinstance(o, MessageArrived))
            self._hand_to_dispatcher(_Job(lambda: self._run_work(work), size))

    def _hand_to_dispatcher(self, job: _Job) -> None:
        """Bounded in jobs and in bytes: when handlers fall behind, the reader thread waits
        here, stops reading the socket, and TCP pushes back on the hub instead of memory
        growing without limit. A closing client drops what no handler will run anyway."""
        with self._pending:
            while (
                self._pending_bytes
                and self._pending_bytes + job.size > self._max_pending_bytes
                and not self._closed
            ):
                self._pending.wait(0.1)
            self._pending_bytes += job.size
        while not self._closed:
            try:
                self._dispatch.put(job, timeout=0.1)
                return
            except queue.Full:
                continue
        self._job_done(job)

    def _job_done(self, job: _Job) -> None:
        with self._pending:
            self._pending_bytes -= job.size
            self._pending.notify_all()

    def _run_work(self, work: list[tuple[Output | _Emit, list[Handler]]]) -> None:
        """On the dispatcher: messages are routed here, in order, then their handlers run."""
        for output, handlers in work:
            if isinstance(output, _Emit):
                self.emitter.emit(output.event, *output.args)
            elif isinstance(output, RunHandlers):
                self._call_handlers(output.name, output.argument, handlers)
            elif isinstance(output, DeliverToBus):
                self._deliver_local(output.message)
            elif isinstance(output, MessageArrived):
                transport = self._transport
                if transport is not None:
                    self._run_routed(transport.route(output.message))
                else:  # closing: still deliver what arrived before the close
                    with self._lock:
                        routed = self._core.route(output.message, time.time())
                    self._run_routed(routed)

    def _wake_waiter(self, waiter: Waiter) -> None:
        waiter.token.set()

    # -- sending ------------------------------------------------------------------------------
    def emit(
        self, message: HiveMessage | MessageLike, binary_type: BinaryPayloadType | int | None = None
    ) -> None:
        """Send a HiveMessage, or an OVOS message as BUS (routing context added as the reference does).

        A BUS message also goes to the local handlers (``internal_bus``), as on an OVOS bus,
        where every client hears what it emits: a satellite's own services (PHAL plugins, the
        listener, playback) talk to each other through this client.
        """
        prepared = self._prepare_and_send(message, binary_type)
        if prepared.msg_type is HiveMessageType.BUS:
            self._echo(prepared)

    def _prepare_and_send(
        self, message: HiveMessage | MessageLike, binary_type: BinaryPayloadType | int | None = None
    ) -> HiveMessage:
        """Add the routing context, then send (or queue); the message as it went out."""
        with self._lock:
            prepared = self._core.prepare(
                message, binary_type, now=time.monotonic(), wall=time.time()
            )
        self._send_or_queue(prepared)
        return prepared

    def _echo(self, message: HiveMessage) -> None:
        payload = message.payload
        if not isinstance(payload, Message):
            return
        self._echoing.active = True
        try:
            self.internal_bus.emit(payload)
        except Exception:
            LOG.exception("a local handler of %s failed", payload.msg_type)
        finally:
            self._echoing.active = False

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

    def _forward_local(self, message: Any) -> None:
        """Every local bus message: shared with the hub (``share_bus``), or sent to it as BUS
        when its destination is the hub (a reply to something the hub injected)."""
        if getattr(self._echoing, "active", False):
            return  # our own emit: the hub has it already, as BUS
        try:  # reads only the latest hub's node id: no lock on this per-message path
            upstream = self._core.upstream_of_local(message, share_bus=self.share_bus)
        except HiveMindError as exc:
            LOG.warning("not forwarding a local bus message to the hub: %s", exc)
            return
        for item in upstream:
            with contextlib.suppress(NotConnected, QueueFull):
                self._send_or_queue(item)

    def _send_upstream(self, message: Any) -> None:
        """A ``hive.send.upstream`` request on the local bus."""
        try:
            wanted = upstream_request(message)
            if wanted is not None:
                self._prepare_and_send(wanted)  # not echoed: it came from the local bus
        except (NotConnected, QueueFull) as exc:
            LOG.warning("%s not sent: %s", UPSTREAM_REQUEST, exc)
        except HiveMindError as exc:
            LOG.warning("ignoring a malformed %s: %s", UPSTREAM_REQUEST, exc)

    def _start_dispatcher(self) -> None:
        if self._dispatcher is not None:
            return
        # fresh state: what an earlier close() left must not stop or feed this dispatcher
        self._dispatch = queue.Queue(self._max_pending_handlers)
        self._dispatch_stop = threading.Event()
        with self._pending:
            self._pending_bytes = 0
        self._dispatcher = threading.Thread(
            target=self._run_jobs,
            args=(self._dispatch, self._dispatch_stop, None, None),
            name="hivemind-dispatcher",
            daemon=True,
        )
        self._dispatcher.start()

    def _run_jobs(
        self,
        jobs: queue.Queue[_Job],
        stop: threading.Event,
        until: threading.Event | None,
        deadline: float | None,
    ) -> None:
        """The dispatcher's loop; also run by a handler that waits for an answer, so the
        answer can arrive (``until`` set, or ``deadline`` passed, ends that nested run)."""
        while not stop.is_set() and not (until is not None and until.is_set()):
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                return
            try:
                job = jobs.get(timeout=left)
            except queue.Empty:
                continue
            try:
                job.run()
            except Exception:
                LOG.exception("handler failed")
            finally:
                self._job_done(job)

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
            if threading.current_thread() is self._dispatcher:
                # a handler is waiting: the answer can only be routed if we keep dispatching
                deadline = time.monotonic() + timeout
                self._run_jobs(self._dispatch, self._dispatch_stop, waiter.token, deadline)
            else:
                waiter.token.wait(timeout)
            return waiter.result

    def wait_for_message(
        self, message_type: str | HiveMessageType, timeout: float = 3.0
    ) -> HiveMessage | Message | None:
        """The next HiveMessage of this type, or None after ``timeout`` seconds.

        Any name that is not a HiveMessage type is an OVOS message type, as on an OVOS bus:
        ``wait_for_message("speak")`` returns the next ``speak`` from the hub.
        """
        found = self._wait(message_of_type(message_type), timeout)
        return found if isinstance(found, HiveMessage | Message) else None

    def wait_for_mycroft(self, mycroft_msg_type: str, timeout: float = 3.0) -> Message | None:
        """The next OVOS message of this type arriving from the hub, or None."""
        found = self._wait(mycroft_message_of_type(mycroft_msg_type), timeout)
        return found if isinstance(found, Message) else None

    def wait_for_response(
        self,
        message: HiveMessage | MessageLike,
        reply_type: str | HiveMessageType | Sequence[str] | None = None,
        timeout: float = 3.0,
    ) -> Message | HiveMessage | None:
        """Send ``message`` and wait for its reply (default ``<type>.response``, or the same
        HiveMessageType); ``reply_type`` may list several OVOS types, as on an OVOS bus."""
        found = self._wait(response_matcher(message, reply_type), timeout, message)
        return found if isinstance(found, Message | HiveMessage) else None

    def wait_for_payload(
        self,
        payload_type: str,
        message_type: str | HiveMessageType = HiveMessageType.THIRDPRTY,
        timeout: float = 3.0,
    ) -> HiveMessage | None:
        """The next HiveMessage of ``message_type`` whose payload has ``msg_type`` or ``type`` == ``payload_type``."""
        found = self._wait(payload_matcher(message_type, payload_type), timeout)
        return found if isinstance(found, HiveMessage) else None

    def wait_for_payload_response(
        self,
        message: HiveMessage,
        payload_type: str,
        message_type: str | HiveMessageType = HiveMessageType.THIRDPRTY,
        timeout: float = 3.0,
    ) -> HiveMessage | None:
        """Send ``message`` and wait as ``wait_for_payload`` does."""
        found = self._wait(payload_matcher(message_type, payload_type), timeout, message)
        return found if isinstance(found, HiveMessage) else None

    # -- RENDEZVOUS (a hub holding mailboxes: hivemind-rendezvous) -----------------------------
    def _rendezvous_exchange(self, request: HiveMessage, timeout: float) -> HiveMessage | None:
        with self._rendezvous:
            found = self._wait(rendezvous.is_reply, timeout, request)
        return found if isinstance(found, HiveMessage) else None

    def rendezvous_deposit(
        self, target_key: str, intercom: HiveMessage, ttl: int | None = None, timeout: float = 10.0
    ) -> str:
        """Leave ``intercom`` (an INTERCOM message, sealed for the recipient) in the mailbox of
        access key ``target_key`` on the hub; returns the deposit id. RendezvousError when the
        hub refuses (its reason kept) or does not answer within ``timeout``."""
        request = rendezvous.deposit_request(target_key, intercom, ttl)
        return rendezvous.read_deposit(self._rendezvous_exchange(request, timeout))

    def rendezvous_collect(self, timeout: float = 10.0) -> list[rendezvous.Mail]:
        """The mail waiting in our mailbox (the hub knows it by our access key). It stays there
        until :meth:`rendezvous_ack`; open each with :meth:`open_mail`."""
        return rendezvous.read_collect(
            self._rendezvous_exchange(rendezvous.collect_request(), timeout)
        )

    def rendezvous_ack(self, deposit_ids: Sequence[str], timeout: float = 10.0) -> int:
        """Drop the deposits we received from our mailbox; returns how many the hub dropped."""
        request = rendezvous.ack_request(deposit_ids)
        return rendezvous.read_ack(self._rendezvous_exchange(request, timeout))
