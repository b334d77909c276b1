"""``hivemind_bus_client.protocol``: the reference's satellite protocol objects have no
counterpart here: the sans-I/O :class:`hivemind_client.satellite.core.SatelliteCore` does their
work inside every client. The names import (code that only mentions them keeps loading); building
one says where the work is done instead. The verified-source key is mapped, and
``CascadeAggregator`` is the reference's one-window collector, driven by a timer thread."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from hivemind_client.errors import InvalidArgument
from hivemind_client.satellite.routing import (
    UPSTREAM_REQUEST,
    VERIFIED_SOURCE_KEY,
    upstream_of_local,
    upstream_request,
)
from hivemind_client.wire.message import HiveMessage

__all__ = [
    "VERIFIED_SOURCE_PEER_KEY",
    "CascadeAggregator",
    "HiveMindSlaveInternalProtocol",
    "HiveMindSlaveProtocol",
]

VERIFIED_SOURCE_PEER_KEY = VERIFIED_SOURCE_KEY


class CascadeAggregator:
    """One window of answers: it opens at the first answer and closes ``timeout`` seconds
    later, or as soon as ``expected_responses`` answers are in; ``select_callback`` then picks
    one (None: nothing) and ``emit_callback`` gets it, on the timer thread or the adding one.

    The reference's shape, kept for code written against it. Per-query, per-responder windows
    with a clock the caller drives are :class:`hivemind_client.satellite.cascade.
    CascadeAggregator`. Callbacks run outside the lock, so one may add to or cancel the
    aggregator; at most ``max_responses`` answers are kept (later ones are dropped).
    """

    def __init__(
        self,
        timeout: float,
        select_callback: Callable[[list[HiveMessage]], HiveMessage | None] | None,
        emit_callback: Callable[[HiveMessage], None],
        expected_responses: int | None = None,
        *,
        max_responses: int = 256,
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise InvalidArgument("timeout must be a number of seconds >= 0")
        if expected_responses is not None and (
            isinstance(expected_responses, bool)
            or not isinstance(expected_responses, int)
            or expected_responses < 1
        ):
            raise InvalidArgument("expected_responses must be None or an int >= 1")
        self.timeout = float(timeout)
        self.select_callback = select_callback or random.choice
        self.emit_callback = emit_callback
        self.expected_responses = expected_responses
        self.max_responses = max_responses
        self.responses: list[HiveMessage] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._done = False

    def add_response(self, message: HiveMessage) -> None:
        """Keep one answer; the first starts the timer, the expected count closes early."""
        with self._lock:
            if self._done or len(self.responses) >= self.max_responses:
                return
            self.responses.append(message)
            if self._timer is None:
                self._timer = threading.Timer(self.timeout, self._close)
                self._timer.daemon = True
                self._timer.start()
            enough = (
                self.expected_responses is not None
                and len(self.responses) >= self.expected_responses
            )
        if enough:
            self._close()

    def cancel(self) -> None:
        """Close without selecting anything."""
        with self._lock:
            self._finish()

    def _close(self) -> None:
        with self._lock:
            if self._done:
                return
            responses = self._finish()
        if responses:
            selected = self.select_callback(responses)
            if selected is not None:
                self.emit_callback(selected)

    def _finish(self) -> list[HiveMessage]:
        """Under the lock: mark the window closed, stop the timer, hand back the answers."""
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        responses, self.responses = self.responses, []
        return responses


class _NoCounterpart:
    """Importable; building one raises (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> NoReturn:
        del args, kwargs
        raise NotImplementedError(
            f"hivemind_client has no {type(self).__name__}: the satellite protocol runs inside"
            " HiveMessageBusClient (hivemind_client.satellite.core.SatelliteCore)"
        )


class HiveMindSlaveProtocol(_NoCounterpart):
    """The reference's satellite protocol object (not mapped)."""


class HiveMindSlaveInternalProtocol:
    """The local-bus bridge of a satellite, as an object of its own: every client already runs
    it on its ``internal_bus``; this is for code that wires a bus to a client by hand.

    ``handle_outgoing_mycroft`` sends a local message up (SHARED_BUS when ``share_bus``, BUS
    when its destination is ``node_id``, the hub); ``handle_send`` serves
    ``hive.send.upstream``. Both go through ``hm_bus.emit``.
    """

    def __init__(
        self,
        hm_bus: Any = None,
        share_bus: bool = False,
        bus: Any = None,
        node_id: str = "",
    ) -> None:
        self.hm_bus = hm_bus
        self.share_bus = share_bus
        self.bus = bus
        self.node_id = node_id

    def register_bus_handlers(self) -> None:
        """Listen on ``bus`` for every message and for ``hive.send.upstream``."""
        if self.bus is None:
            raise InvalidArgument("no bus to listen on")
        self.bus.on(UPSTREAM_REQUEST, self.handle_send)
        self.bus.on("message", self.handle_outgoing_mycroft)

    def handle_send(self, message: Any) -> None:
        """A ``hive.send.upstream`` request: emit the HiveMessage it describes."""
        wanted = upstream_request(message)
        if wanted is not None:
            self.hm_bus.emit(wanted)

    def handle_outgoing_mycroft(self, message: Any) -> None:
        """A message seen on the local bus: emit what it sends to the hub."""
        for item in upstream_of_local(
            message, share_bus=self.share_bus, hub_node_id=self.node_id or None
        ):
            self.hm_bus.emit(item)
