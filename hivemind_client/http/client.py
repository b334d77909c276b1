"""``HiveMindHTTPClient``: the satellite API over the hub's HTTP plugin (polling).

    with HiveMindHTTPClient(key="...", password="...", host="127.0.0.1", port=5679) as client:
        info = client.connect(site_id="kitchen")
        client.on_mycroft("speak", lambda m: print(m.data["utterance"]))
        client.emit(Message("recognizer_loop:utterance", {"utterances": ["hello"]}))

Everything but the transport is shared with the websocket client: the behaviour is the
:class:`~hivemind_client.satellite.core.SatelliteCore`'s, the dispatcher, handlers and waiters
are :class:`~hivemind_client.api.threaded.ThreadedClient`'s. This module only says how to reach
the hub: an :class:`~hivemind_client.http.driver.HTTPDriver` poller thread.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from hivemind_client.api.threaded import ThreadedClient, Transport
from hivemind_client.errors import InvalidArgument
from hivemind_client.http.driver import DEFAULT_HTTP_PORT, HTTPDriver
from hivemind_client.satellite.core import SatelliteConfig

__all__ = ["DEFAULT_HTTP_PORT", "HiveMindHTTPClient"]

_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


class HiveMindHTTPClient(ThreadedClient):
    """A HiveMind satellite session over HTTP polling: the websocket client's API and options,
    plus ``poll_interval`` (seconds between polls while nothing arrives), ``http_timeout``
    (per request) and ``max_response_size`` (bytes of one answer)."""

    def __init__(
        self,
        *args: Any,
        poll_interval: float = 0.5,
        http_timeout: float = 10.0,
        max_response_size: int = 64 * 1024 * 1024,
        **options: Any,
    ) -> None:
        self.poll_interval = poll_interval
        self.http_timeout = http_timeout
        self.max_response_size = max_response_size
        super().__init__(*args, **options)
        if self.certificate_sha256:
            raise InvalidArgument("certificate pins are not supported over HTTP yet")

    @property
    def url(self) -> str:
        """The hub's base URL: ``http://host:port`` (``ws``/``wss`` hosts map to http/https)."""
        host = str(self.host)
        scheme = "http"
        if "://" in host:
            given, host = host.split("://", 1)
            if given not in _SCHEMES:
                raise InvalidArgument(f"unsupported scheme {given!r} for the HTTP client")
            scheme = _SCHEMES[given]
        host = host.rstrip("/")
        if urlsplit(f"//{host}").port is None:
            host = f"{host}:{self.port or DEFAULT_HTTP_PORT}"
        return f"{scheme}://{host}"

    @property
    def authorization(self) -> str:
        """What every request carries: base64 of ``useragent:access_key``."""
        return base64.b64encode(f"{self.useragent}:{self.key}".encode()).decode("ascii")

    def _satellite_config(self, noise_key: bytes) -> SatelliteConfig:
        config = super()._satellite_config(noise_key)
        config.keepalive = False  # no ping/pong over HTTP; each poll shows the hub alive
        config.first_frame_timeout = None  # a websocket's bound; polls have http_timeout
        return config

    def _new_transport(self) -> Transport:
        return HTTPDriver(
            self.url,
            self.authorization,
            self._core,
            self._on_outputs,
            store=self.noise_store,
            verify=not self.self_signed,
            poll_interval=self.poll_interval,
            http_timeout=self.http_timeout,
            max_response_size=self.max_response_size,
        )
