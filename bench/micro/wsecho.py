"""A tiny websocket echo server on loopback, for the physical floor of one round trip.

    .venv/bin/python bench/micro/wsecho.py      # prints the port, serves until stdin closes

``websockets`` (its C speed-ups on) serves; ``EchoServer`` starts it as a subprocess so the
measuring client (websocket-client, what every HiveMind client here uses) gets a core of its own
share and no GIL contention from the server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

from websockets.sync.server import ServerConnection, serve


def _echo(connection: ServerConnection) -> None:
    connection.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for message in connection:
        connection.send(message)


class EchoServer:
    """The echo server in a child process; ``url`` to connect, ``close()`` to stop it."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = f"ws://127.0.0.1:{int(self._process.stdout.readline())}"

    def close(self) -> None:
        """Stop the server (EOF on its stdin) and reap it."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    with serve(_echo, "127.0.0.1", 0, max_size=None, compression=None) as server:
        print(server.socket.getsockname()[1], flush=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sys.stdin.read()  # EOF: the parent is done (or gone)
        server.shutdown()


if __name__ == "__main__":
    main()
