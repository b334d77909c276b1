"""websockets' asyncio client, adapted for a satellite facing hubs it may not trust.

The asyncio driver's socket plumbing, apart from its logic: verified TLS by default, a
certificate pin checked before the upgrade request (which carries the access key) is written,
redirects refused, no proxy from the environment, no permessage-deflate (an inflation bomb to
bound for nothing: hubs don't compress), the core's keepalive instead of websockets' own, and
websockets' DEBUG log with the access key taken out of the upgrade URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import HiveMindError

__all__ = ["Unreachable", "open_websocket", "set_max_size", "ssl_context"]

_WEBSOCKET_LOG = logging.getLogger(__name__)
"""websockets logs here (frames, the upgrade request), with the access key taken out."""
_REDIRECTS = range(300, 400)
_MAX_LOCATION_SHOWN = 200


def ssl_context(
    self_signed: bool, certificate_sha256: str | None, ca_file: str | None
) -> ssl.SSLContext:
    """Verified TLS by default; a pin or ``self_signed=True`` replaces CA checks explicitly."""
    if certificate_sha256 or self_signed:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # the pin (or the user's choice) replaces them
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_file)


_AUTHORIZATION = re.compile(r"(authorization=)[^&\s]*", re.IGNORECASE)


def _redact(record: logging.LogRecord) -> bool:
    """The upgrade request's query carries the access key: never let it reach a log."""
    if isinstance(record.args, tuple):
        record.args = tuple(
            _AUTHORIZATION.sub(r"\1<redacted>", arg) if isinstance(arg, str) else arg
            for arg in record.args
        )
    if isinstance(record.msg, str):
        record.msg = _AUTHORIZATION.sub(r"\1<redacted>", record.msg)
    return True


_WEBSOCKET_LOG.addFilter(_redact)


class _Connect(connect):
    """websockets' ``connect`` with redirects refused: a 3xx answer would send the access key
    to a server the user did not name (and, with a pin, unpinned)."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        if isinstance(exc, InvalidStatus) and exc.response.status_code in _REDIRECTS:
            location = exc.response.headers.get("Location")
            target = "nowhere" if location is None else repr(location[:_MAX_LOCATION_SHOWN])
            return ConnectionFailedError(
                f"the hub answered with a redirect ({exc.response.status_code}) to {target};"
                " redirects are refused: connect to the hub's own address"
            )
        return exc


def _pinned_connection(pin: str, failures: list[HiveMindError]) -> type[ClientConnection]:
    """A connection class that checks the certificate pin as soon as TLS is up, before the
    upgrade request (which carries the access key) is written."""

    class PinnedConnection(ClientConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            seen = hashlib.sha256(der).hexdigest() if der else "none"
            if seen != pin:
                failures.append(
                    ConnectionFailedError(
                        f"the hub's certificate does not match the pin (sha256 {seen})"
                    )
                )
                transport.abort()

    return PinnedConnection


def set_max_size(ws: ClientConnection, limit: int) -> None:
    """Bound the next incoming message (checked against each frame's announced length)."""
    protocol: Any = ws.protocol
    if hasattr(protocol, "max_message_size"):  # websockets >= 16
        protocol.max_message_size = limit
    else:  # pragma: no cover - older websockets
        protocol.max_size = limit


class Unreachable(Exception):
    """The hub could not be reached this time (worth retrying); ``error`` says why."""

    def __init__(self, error: HiveMindError) -> None:
        super().__init__(str(error))
        self.error = error


async def open_websocket(
    url: str,
    *,
    tls: ssl.SSLContext | None,
    pin: str | None,
    timeout: float | None,
    max_size: int,
) -> ClientConnection:
    """A connected websocket. Raises HiveMindError for what no retry fixes (a pin that does
    not match, a redirect, a pin on ws://) and Unreachable for the rest."""
    failures: list[HiveMindError] = []
    options: dict[str, Any] = {}
    if pin is not None:
        if tls is None:
            raise ConnectionFailedError("a certificate pin needs a wss:// connection")
        options["create_connection"] = _pinned_connection(pin, failures)
    if tls is not None:
        options["ssl"] = tls
    try:
        return await _Connect(
            url,
            compression=None,
            proxy=None,
            open_timeout=timeout,
            ping_interval=None,  # the core decides when to ping
            ping_timeout=None,
            close_timeout=2,
            max_size=max_size,
            logger=_WEBSOCKET_LOG,
            **options,
        )
    except HiveMindError:
        raise
    except (OSError, asyncio.TimeoutError, WebSocketException, EOFError) as exc:
        if failures:
            raise failures[0] from None
        why = str(exc) or type(exc).__name__
        raise Unreachable(ConnectionFailedError(f"cannot connect to the hub: {why}")) from None
