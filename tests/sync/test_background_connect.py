"""A client started in the background (``run_in_thread``) against hubs that do not answer.

Real loopback sockets: a listener that accepts TCP and never answers the websocket upgrade (a
stopped hub process, a wedged listener), and one that answers the upgrade and then says
nothing. ``connect()`` reports such a hub as an error; ``run_in_thread`` keeps trying, and
``close()`` ends a reader thread whatever it is waiting for.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from hivemind_client.core.reconnect import ReconnectPolicy
from hivemind_client.errors import ConnectionFailed
from hivemind_client.sync.client import HiveMessageBusClient

pytestmark = pytest.mark.usefixtures("no_thread_leak")

QUICK = ReconnectPolicy(first_delay=0.05, max_delay=0.2, jitter=0.0)
_WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


class _Listener:
    """Accepts connections on 127.0.0.1; ``upgrade`` says whether it answers the upgrade."""

    def __init__(self, *, upgrade: bool) -> None:
        self.upgrade = upgrade
        self.accepted = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)  # accept() polls, so close() can end the thread
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-hub", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            self._conns.append(conn)
            self.accepted += 1
            if self.upgrade:
                _answer_upgrade(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()
        for conn in self._conns:
            conn.close()


def _answer_upgrade(conn: socket.socket) -> None:
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096)
        if not chunk:
            return
        request += chunk
    headers = dict(line.split(b":", 1) for line in request.split(b"\r\n")[1:] if b":" in line)
    key = next(v.strip() for k, v in headers.items() if k.lower() == b"sec-websocket-key")
    accept = base64.b64encode(hashlib.sha1(key + _WEBSOCKET_GUID).digest())
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


@pytest.fixture(params=[False, True], ids=["no-upgrade", "silent-after-upgrade"])
def hub(request: pytest.FixtureRequest) -> Iterator[_Listener]:
    listener = _Listener(upgrade=request.param)
    yield listener
    listener.close()


def _client(port: int, **options: object) -> HiveMessageBusClient:
    return HiveMessageBusClient(
        key="k", password="p", host="ws://127.0.0.1", port=port, reconnect=QUICK, **options
    )


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.02)
    return condition()


def test_run_in_thread_keeps_trying_a_hub_that_does_not_answer(hub: _Listener) -> None:
    client = _client(hub.port, websocket_connect_timeout=0.3)
    try:
        client.run_in_thread()
        assert _wait(lambda: hub.accepted >= 3, 5), f"{hub.accepted} attempt(s), no retry"
    finally:
        client.close(timeout=3)


def test_connect_still_reports_such_a_hub(hub: _Listener) -> None:
    client = _client(hub.port, connect_timeout=0.3)
    try:
        with pytest.raises(ConnectionFailed):
            client.connect(timeout=5)
        time.sleep(0.5)
        assert hub.accepted == 1
    finally:
        client.close()


def test_close_ends_a_reader_waiting_for_the_hub_without_a_connect_timeout(
    hub: _Listener,
) -> None:
    client = _client(hub.port, websocket_connect_timeout=None)
    thread = client.run_in_thread()
    assert _wait(lambda: hub.accepted >= 1, 5)
    time.sleep(0.2)  # the reader now waits for the upgrade's answer, or for a first frame
    started = time.monotonic()
    client.close(timeout=3)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2
