"""The HTTP polling driver: the only code of the HTTP client that touches the network.

The hub's HTTP plugin (``hivemind-http-protocol``) has no socket per client: a session is
opened with ``POST /connect``, every message to the hub is one ``POST /send_message``, and
what the hub sends waits in two queues (text and binary) that the client drains with
``GET /get_messages`` and ``GET /get_binary_messages`` (docs/protocol.md, "HTTP transport").

One poller thread owns the session. It opens it, polls both queues and moves every message
and the time into the :class:`~hivemind_client.satellite.core.SatelliteCore`, posts what the
core returns, fulfils the core's side-effect requests, hands the outputs that run application
code to the client, and opens a new session when the core says so. Sends from other threads
take the same lock, so the core is only called by one thread at a time and frames reach the
hub in the order they were encrypted (a Noise session counts them).

Hostile or broken hubs: every answer body is bounded (``max_response_size``, checked on the
announced length and while reading), must be a JSON object of the expected shape, and every
request has a timeout; anything else ends the session with a typed error.
"""

from __future__ import annotations

import binascii
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pybase64

from hivemind_client.api.effects import ThreadedPump
from hivemind_client.core.reconnect import Retry
from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import (
    HiveMindError,
    InvalidArgument,
    InvalidJSON,
    InvalidPayload,
    NotConnected,
    PayloadTooLarge,
)
from hivemind_client.identity.stores import NoiseKeyStore
from hivemind_client.satellite.core import (
    Output,
    SatelliteCore,
)
from hivemind_client.wire.message import HiveMessage

__all__ = ["DEFAULT_HTTP_PORT", "HTTPDriver"]

LOG = logging.getLogger(__name__)
DEFAULT_HTTP_PORT = 5679
"""Where the hub's HTTP plugin listens unless configured otherwise."""
_NOT_CONNECTED = "Client is not connected"


class _HideAccessKey(logging.Filter):
    """httpx logs every request's URL at INFO, and the plugin wants the access key in the
    query: log the URL without its query instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                a.copy_with(query=None) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_HideAccessKey())


class _SessionOver(Exception):
    """The hub's session is gone (it says so, or it cannot be reached): reconnect."""

    def __init__(self, reason: str, error: HiveMindError | None = None) -> None:
        super().__init__(reason)
        self.error = error


class HTTPDriver(ThreadedPump):
    """Drives a :class:`SatelliteCore` over the hub's HTTP plugin, one session at a time."""

    def __init__(
        self,
        base_url: str,
        authorization: str,
        core: SatelliteCore,
        on_outputs: Callable[[list[Output]], None],
        *,
        store: NoiseKeyStore,
        verify: bool = True,
        poll_interval: float = 0.5,
        http_timeout: float = 10.0,
        max_response_size: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if poll_interval <= 0 or http_timeout <= 0 or max_response_size <= 0:
            raise InvalidArgument("poll_interval, http_timeout and max_response_size must be > 0")
        self.base_url = base_url.rstrip("/")
        self.core = core
        self._on_outputs = on_outputs
        self._store = store
        self._params = {"authorization": authorization}
        self._poll_interval = poll_interval
        self._max_response_size = max_response_size
        self._clock = clock
        self._wall = wall_clock
        self._http = httpx.Client(
            verify=verify,
            timeout=http_timeout,
            follow_redirects=False,  # the access key is in the query: never resend it elsewhere
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )
        self.lock = threading.RLock()
        """Held around every call into the core and every POST: one thread at a time."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._open = False  # a session is open on the hub
        self._broken: _SessionOver | None = None  # a POST failed: the poller ends the session
        self._thread: threading.Thread | None = None

    # -- public ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the poller thread (it connects in the background)."""
        if self._thread is not None:
            raise InvalidArgument("transport already started")
        self._thread = threading.Thread(target=self._run, name="hivemind-http-poller", daemon=True)
        self._thread.start()

    @property
    def ready(self) -> bool:
        """True while a session is established."""
        with self.lock:
            return self._open and self._broken is None and self.core.ready

    def send(self, message: HiveMessage) -> None:
        """Send now, or queue in the core while the session is down.

        Raises NotConnected when the POST failed (the session is then rebuilt and the message
        waits in the core's queue), QueueFull when that queue is full.
        """
        with self.lock:
            frames = self.core.send(message)
            if not frames:
                return
            try:
                self._post_all(frames)
            except _SessionOver as over:
                self.core.send_failed(message)
                self._end_session(over)
                raise NotConnected(f"the hub did not take the message: {over}") from None

    def route(self, message: HiveMessage) -> list[Output]:
        """Route one message from the hub (the client's dispatcher calls this, in order), and
        post the automatic replies it caused."""
        with self.lock:
            outputs = self.core.route(message, self._wall())
            try:
                self._post_pending()
            except _SessionOver as over:
                LOG.info("could not send an automatic reply: %s", over)
                self._end_session(over)
            return outputs

    def close(self, timeout: float = 5.0) -> None:
        """Stop reconnecting, end the session on the hub, and wait for the poller thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._http.close()

    # -- poller thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            outcome = self._one_session()
            if not isinstance(outcome, Retry) or self._stop.is_set():
                break
            if outcome.delay > 0:
                LOG.info("reconnecting in %.2f s", outcome.delay)
            if self._stop.wait(outcome.delay):
                break

    def _one_session(self) -> object:
        """One session's life; returns the core's outcome (Retry or GiveUp)."""
        if not self._connect():
            return self._pump()
        outcome: object = None
        try:
            while outcome is None and not self._stop.is_set():
                if self._broken is not None:
                    raise self._broken
                texts = self._poll("get_messages", "messages")
                blobs = self._poll("get_binary_messages", "b64_messages")
                with self.lock:
                    now, wall = self._clock(), self._wall()
                    for text in texts:
                        self.core.receive_message(text, now, wall)
                    for blob in blobs:
                        self.core.receive_message(_b64(blob), now, wall)
                    deadline = self.core.next_timer()
                    if deadline is not None and now >= deadline:
                        self.core.handle_timer(now, wall)
                    self._post_pending()
                outcome = self._pump()
                if outcome is None and not texts and not blobs:
                    self._sleep()
        except _SessionOver as over:
            outcome = self._lost(over)
        except Exception as exc:  # a bug below us must not kill the poller thread silently
            LOG.exception("internal error while handling the hub's data")
            error = ConnectionFailedError(
                f"internal error while handling the hub's data: {type(exc).__name__}: {exc}"
            )
            outcome = self._lost(_SessionOver(str(error), error))
        if outcome is None:  # close() stopped the loop
            self._disconnect()
            with self.lock:
                self.core.connection_lost(1000, "closed by the client", self._clock())
            outcome = self._pump()
        return outcome

    def _sleep(self) -> None:
        """Until the next poll: ``poll_interval``, a core deadline, or a send (its answer)."""
        wait = self._poll_interval
        deadline = self.core.next_timer()
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - self._clock()))
        self._wake.wait(wait)
        self._wake.clear()

    def _connect(self) -> bool:
        """Open a session on the hub; False (the core was told why) when it refused."""
        self._broken = None
        # a session the hub still holds for this key (ours, from before a crash or a failed
        # poll) would be reused as it is: no HELLO, no handshake. End it first.
        self._open = True
        self._disconnect()
        try:
            self._request("POST", "connect", None)
        except _SessionOver as over:
            error = over.error or ConnectionFailedError(f"cannot connect to the hub: {over}")
            with self.lock:
                self.core.connection_failed(error, final=isinstance(over, _Refused))
            return False
        with self.lock:
            self._open = True
            self.core.connection_opened(
                self._clock(),
                pinned_hub_key=self._store.pinned_hub_key(self.core.config.hub_pin_id),
            )
        return True

    def _disconnect(self) -> None:
        """Tell the hub the session is over (best effort: it forgets idle sessions anyway)."""
        if not self._open:
            return
        self._open = False
        try:
            self._request("POST", "disconnect", None)
        except _SessionOver as over:  # "Already Disconnected", or the hub is gone
            LOG.debug("disconnect: %s", over)

    def _end_session(self, over: _SessionOver) -> None:
        """A POST failed: the poller ends the session at its next turn."""
        if self._broken is None:
            self._broken = over
        self._wake.set()

    def _lost(self, over: _SessionOver) -> object:
        self._disconnect()
        with self.lock:
            self.core.connection_lost(None, str(over), self._clock(), error=over.error)
        return self._pump()

    def _close_link(self, code: int) -> None:
        self._disconnect()

    def _write_produced(self) -> None:
        try:
            self._post_pending()
        except _SessionOver as over:
            self._end_session(over)

    # -- HTTP -----------------------------------------------------------------------------------
    def _post_pending(self) -> None:
        """Post what the core produced (under the lock), then what waited for the session."""
        self._post_all(self.core.data_to_send())
        while (item := self.core.take_queued()) is not None:
            message, frames = item
            try:
                self._post_all(frames)
            except _SessionOver:
                self.core.requeue(message)
                raise

    def _post_all(self, frames: list[str | bytes]) -> None:
        if frames and self._broken is not None:
            raise self._broken
        for frame in frames:
            if isinstance(frame, bytes):  # a Noise transport frame: HTTP forms carry text only
                form = {"message": pybase64.b64encode(frame).decode("ascii"), "binary": "1"}
            else:
                form = {"message": frame}
            self._request("POST", "send_message", form)
        if frames:
            self._wake.set()  # the answer is on its way: poll for it now

    def _poll(self, endpoint: str, field: str) -> list[str]:
        body = self._request("GET", endpoint, None)
        items = body.get(field)
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise _SessionOver(
                f"bad answer from /{endpoint}",
                InvalidPayload(f"/{endpoint} answered without a list of strings in {field!r}"),
            )
        return items

    def _request(self, method: str, endpoint: str, form: dict[str, str] | None) -> dict[str, Any]:
        """One request; its JSON object body, bounded. Raises _SessionOver (_Refused for a
        hub that refused our access key)."""
        url = f"{self.base_url}/{endpoint}"
        try:
            with self._http.stream(method, url, params=self._params, data=form) as response:
                body = self._read(response, endpoint)
        except httpx.HTTPError as exc:
            raise _SessionOver(f"/{endpoint}: {type(exc).__name__}: {exc}") from None
        answer = _json_object(body, endpoint)
        said = answer.get("error")
        error = None if said is None else repr(str(said)[:100])  # the hub's words, quoted and cut
        if response.status_code == 403:
            raise _Refused(
                f"/{endpoint}: HTTP 403",
                ConnectionFailedError(f"the hub refused the access key (HTTP 403: {error})"),
            )
        if said == _NOT_CONNECTED:
            raise _SessionOver(f"the hub ended the session (/{endpoint}: {error})")
        if not response.is_success or error is not None:
            raise _SessionOver(
                f"/{endpoint}: HTTP {response.status_code}: {error}",
                ConnectionFailedError(
                    f"the hub refused /{endpoint} (HTTP {response.status_code}: {error})"
                ),
            )
        return answer

    def _read(self, response: httpx.Response, endpoint: str) -> bytes:
        limit = self._max_response_size
        announced = response.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > limit:
            raise _too_large(endpoint, int(announced), limit)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                raise _too_large(endpoint, len(body), limit)
        return bytes(body)


class _Refused(_SessionOver):
    """The hub refused the session itself (unknown access key): retrying cannot help."""


def _too_large(endpoint: str, size: int, limit: int) -> _SessionOver:
    error = PayloadTooLarge(f"/{endpoint} answered {size}+ bytes, over max_response_size {limit}")
    return _SessionOver(str(error), error)


def _json_object(body: bytes, endpoint: str) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        error = InvalidJSON(f"/{endpoint} answered something that is not JSON")
        raise _SessionOver(str(error), error) from None
    if not isinstance(answer, dict):
        error = InvalidJSON(f"/{endpoint} answered JSON that is not an object")
        raise _SessionOver(str(error), error)
    return answer


def _b64(blob: str) -> bytes:
    try:
        return pybase64.b64decode(blob, validate=True)
    except (ValueError, binascii.Error):
        error = InvalidPayload("/get_binary_messages answered a message that is not base64")
        raise _SessionOver(str(error), error) from None
