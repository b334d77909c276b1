"""Side effects' results back into the core: one place for every driver.

A driver runs :func:`~hivemind_client.identity.stores.perform` where slow work belongs (a
worker thread, an executor) and hands the result to :func:`feed_result`, under whatever lock
guards its core; then it writes what the core produced (Noise message 1, or our HELLO).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from hivemind_client.errors import HiveMindError
from hivemind_client.identity.stores import LinkKeyResult, NoiseKeyStore, PskResult, perform
from hivemind_client.satellite.core import (
    CloseConnection,
    ConnectionEnded,
    Output,
    PerformRequest,
    SatelliteCore,
    SendPing,
)

__all__ = ["ThreadedPump", "feed_result"]

LOG = logging.getLogger(__name__)


def feed_result(
    core: SatelliteCore, result: PskResult | LinkKeyResult | None, *, now: float, wall: float
) -> bool:
    """Give ``result`` to ``core``; True when it took one (the driver then writes)."""
    if isinstance(result, PskResult):
        core.receive_psk(result.psk, cached=result.cached, now=now, wall=wall)
        return True
    if isinstance(result, LinkKeyResult):
        core.receive_link_key(result.key, now=now, wall=wall)
        return True
    return False


class ThreadedPump:
    """What the core asks of a threaded driver (websocket or HTTP), carried out in one loop.

    The driver provides the core, its lock and its clocks, and says how to ping, how to end
    the link and how to write what the core produced; side effects run off the lock, in the
    driver's own thread, and their results go back in under it.
    """

    core: SatelliteCore
    lock: threading.RLock
    _store: NoiseKeyStore
    _on_outputs: Callable[[list[Output]], None]
    _clock: Callable[[], float]
    _wall: Callable[[], float]

    def _send_ping(self) -> None:
        """Send a keepalive ping (a transport without one never gets asked)."""

    def _close_link(self, code: int) -> None:
        """The session cannot go on: end the link (websocket close ``code``)."""
        raise NotImplementedError

    def _write_produced(self) -> None:
        """Under the lock: write what the core produced, then what waited for the link."""
        raise NotImplementedError

    def _pump(self) -> object:
        """Carry out what the core asks for; the outcome if the connection ended, else None."""
        outcome: object = None
        while True:
            with self.lock:
                outputs = self.core.outputs()
            if not outputs:
                return outcome
            for_client: list[Output] = []
            for output in outputs:
                if isinstance(output, PerformRequest):
                    self._perform(output)
                elif isinstance(output, SendPing):
                    self._send_ping()
                elif isinstance(output, CloseConnection):
                    self._close_link(output.code)
                elif isinstance(output, ConnectionEnded):
                    outcome = output.outcome
                    for_client.append(output)
                else:
                    for_client.append(output)
            self._on_outputs(for_client)

    def _perform(self, output: PerformRequest) -> None:
        """Fulfil a side effect off the core's lock (argon2id takes ~0.15 s, PBKDF2 ~35 ms)."""
        request = output.request
        try:
            result = perform(request, self._store)
        except HiveMindError as error:
            LOG.warning("could not %s: %s", type(request).__name__, error)
            return
        with self.lock:
            if feed_result(self.core, result, now=self._clock(), wall=self._wall()):
                self._write_produced()  # Noise message 1, or our HELLO
