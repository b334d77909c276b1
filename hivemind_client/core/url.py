"""How a client addresses a hub: the websocket URL with the access key in its query."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from hivemind_client.errors import InvalidArgument

__all__ = ["DEFAULT_PORT", "build_url"]

DEFAULT_PORT = 5678


def build_url(host: str, port: int | None, useragent: str, access_key: str) -> str:
    """The hub URL with the ``authorization`` query (standard base64 of ``useragent:key``).

    ``host`` may carry a scheme (``ws://`` or ``wss://``); without one ``ws://`` is used.
    The base64 is not URL-encoded, as hubs expect; a plain-ASCII user agent keeps ``+`` out.
    """
    if ":" in useragent:
        raise InvalidArgument("the user agent must not contain ':' (it separates the access key)")
    if not useragent.isascii() or not access_key.isascii():
        raise InvalidArgument("user agent and access key must be plain ASCII")
    if "://" not in host:
        host = "ws://" + host
    parts = urlsplit(host)
    if parts.scheme not in ("ws", "wss"):
        raise InvalidArgument(f"unsupported scheme {parts.scheme!r} (use ws:// or wss://)")
    netloc = parts.hostname or ""
    if ":" in netloc:  # IPv6 literal
        netloc = f"[{netloc}]"
    port = port or parts.port or DEFAULT_PORT
    token = base64.b64encode(f"{useragent}:{access_key}".encode()).decode()
    return f"{parts.scheme}://{netloc}:{port}/?authorization={token}"
