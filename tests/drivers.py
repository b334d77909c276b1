"""One test body for every driver: the asyncio client behind the threaded client's blocking API.

A behaviour test written once against the blocking API (``connect``, ``emit``,
``wait_for_response``, ``on_mycroft``, ``close``, ...) runs against each driver by taking the
``driver`` fixture (tests/conftest.py) and building its client with :func:`make_client`.

:class:`BlockingAsyncClient` runs an :class:`AsyncHiveMessageBusClient` on a private event loop
in one thread, with asyncio debug mode on, and calls its coroutines from the test's thread.
Handlers run on that loop, as they would in an asyncio application; a blocking
``wait_for_*`` from inside a handler cannot work there (it would block the loop it waits on),
so it raises instead of deadlocking: asyncio code awaits in a coroutine handler.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any

from hivemind_client.aio.client import AsyncHiveMessageBusClient
from hivemind_client.satellite.core import ConnectionInfo
from hivemind_client.sync.client import HiveMessageBusClient

__all__ = ["DRIVERS", "BlockingAsyncClient", "make_client"]

DRIVERS = ("threaded", "asyncio")
"""The drivers a shared behaviour test runs against (pytest ids)."""

_SLOW_CALLBACK = 0.05  # asyncio debug mode logs any loop step longer than this


class BlockingAsyncClient:
    """An AsyncHiveMessageBusClient on its own loop thread, driven with blocking calls."""

    def __init__(self, **options: Any) -> None:
        self._start_loop()
        self.client = self._run(self._make(options))
        self._closed = False
        self._closing: asyncio.Future[None] | None = None

    def _start_loop(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.set_debug(True)
        self._loop.slow_callback_duration = _SLOW_CALLBACK
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="asyncio-client-loop", daemon=True
        )
        self._thread.start()

    @staticmethod
    async def _make(options: dict[str, Any]) -> AsyncHiveMessageBusClient:
        return AsyncHiveMessageBusClient(**options)

    def _run(self, coroutine: Coroutine[Any, Any, Any], timeout: float | None = 60) -> Any:
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("a blocking call from a handler on the loop: await it instead")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    # -- the blocking API ---------------------------------------------------------------------
    def connect(self, site_id: str | None = None, timeout: float = 15.0) -> ConnectionInfo:
        if self._closed:  # connect() after close(): the client is reusable, so is its loop
            self._start_loop()
            self._closed = False
        info: ConnectionInfo = self._run(self.client.connect(site_id, timeout), timeout + 30)
        return info

    def emit(self, message: Any, binary_type: Any = None) -> None:
        self._run(self.client.emit(message, binary_type))

    def emit_mycroft(self, message: Any) -> None:
        self._run(self.client.emit_mycroft(message))

    def emit_intercom(self, message: Any, pubkey: str) -> None:
        self._run(self.client.emit_intercom(message, pubkey))

    def wait_for_message(self, message_type: Any, timeout: float = 3.0) -> Any:
        return self._run(self.client.wait_for_message(message_type, timeout), timeout + 30)

    def wait_for_mycroft(self, mycroft_msg_type: str, timeout: float = 3.0) -> Any:
        return self._run(self.client.wait_for_mycroft(mycroft_msg_type, timeout), timeout + 30)

    def wait_for_response(
        self, message: Any, reply_type: str | None = None, timeout: float = 3.0
    ) -> Any:
        return self._run(self.client.wait_for_response(message, reply_type, timeout), timeout + 30)

    def wait_for_payload(
        self, payload_type: str, message_type: Any = "thirdprty", timeout: float = 3.0
    ) -> Any:
        return self._run(
            self.client.wait_for_payload(payload_type, message_type, timeout), timeout + 30
        )

    def close(self) -> None:
        """Close the client and stop its loop; from a handler (on the loop), close in the background."""
        if self._closed:
            return
        if threading.current_thread() is self._thread:
            self._closing = asyncio.ensure_future(self.client.close())
            return
        self._closed = True
        try:
            self._run(self.client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> BlockingAsyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # settings, handlers (on, on_mycroft, ...), state (connected, info, queued, router, ...)
        return getattr(self.client, name)


def make_client(driver: str, **options: Any) -> Any:
    """A client of ``driver`` ("threaded" or "asyncio") with the blocking API."""
    if driver == "threaded":
        return HiveMessageBusClient(**options)
    if driver == "asyncio":
        return BlockingAsyncClient(**options)
    raise ValueError(f"unknown driver {driver!r}")
