"""``HiveMessageBusClient``: the satellite API, a drop-in for the reference client's.

    with HiveMessageBusClient(key="...", password="...", host="127.0.0.1", port=5678) as client:
        info = client.connect(site_id="kitchen")          # raises a clear error, never retries forever
        client.on_mycroft("speak", lambda m: print(m.data["utterance"]))
        client.emit(Message("recognizer_loop:utterance", {"utterances": ["hello"]}))

The behaviour (handshakes, queueing while the link is down, routing, waiters, reconnect
decisions) is the :class:`~hivemind_client.satellite.core.SatelliteCore`'s, and the settings
are :class:`~hivemind_client.api.base.ClientBase`'s. This module is the threaded glue: a
:class:`~hivemind_client.sync.driver.WebsocketDriver` reader thread, and a dispatcher thread on
which messages are routed and handlers run, never on the socket's reader thread.
"""

from __future__ import annotations

from hivemind_client.api.base import DEFAULT_RECONNECT, DEFAULT_USERAGENT
from hivemind_client.api.handlers import BinaryDataCallbacks, LocalBus
from hivemind_client.api.threaded import ThreadedClient, Transport
from hivemind_client.errors import QueueFull, TooManyWaiters
from hivemind_client.satellite.core import ConnectionInfo
from hivemind_client.sync.driver import WebsocketDriver

__all__ = [
    "DEFAULT_RECONNECT",
    "DEFAULT_USERAGENT",
    "BinaryDataCallbacks",
    "ConnectionInfo",
    "HiveMessageBusClient",
    "LocalBus",
    "QueueFull",
    "TooManyWaiters",
]


class HiveMessageBusClient(ThreadedClient):
    """A HiveMind satellite connection over a websocket: handshake, messages, reconnects."""

    def _new_transport(self) -> Transport:
        return WebsocketDriver(
            self.url,
            self._core,
            self._on_outputs,
            store=self.noise_store,
            self_signed=self.self_signed,
            certificate_sha256=self.certificate_sha256,
            connect_timeout=self.connect_timeout or None,
        )
