"""The HTTP driver against a small real HTTP server on 127.0.0.1 that answers badly.

Every bad answer must end ``connect()`` with a typed error, in bounded time, and leave no
thread behind. The server is scripted per endpoint; each handler answers once and returns.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hivemind_client.errors import (
    ConnectionFailed,
    HiveMindError,
    InvalidArgument,
    InvalidJSON,
    InvalidPayload,
    PayloadTooLarge,
)
from hivemind_client.http.client import HiveMindHTTPClient

Answer = Callable[[BaseHTTPRequestHandler], None]


def _json(status: int, body: Any) -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def _raw(data: bytes, *, length: int | None = None) -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data) if length is None else length))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def _endless(handler: BaseHTTPRequestHandler) -> None:
    """A body with no announced length that keeps coming (HTTP/1.0 style: until close)."""
    handler.send_response(200)
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b"[" * 65536
    for _ in range(64):  # 4 MiB at most: bounded even if the client never stops reading
        try:
            handler.wfile.write(chunk)
        except OSError:
            return


def _silent(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(2.0)  # longer than the client's http_timeout; bounded


CONNECTED = _json(200, {"status": "Connected"})
DISCONNECTED = _json(200, {"status": "Disconnected"})
EMPTY_TEXT = _json(200, {"status": "messages retrieved", "messages": []})
EMPTY_BINARY = _json(200, {"status": "messages retrieved", "b64_messages": []})


class _Hub:
    """Answers /<endpoint> with the scripted answer; records what was asked."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = {
            "connect": CONNECTED,
            "disconnect": DISCONNECTED,
            "get_messages": EMPTY_TEXT,
            "get_binary_messages": EMPTY_BINARY,
            **answers,
        }
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                endpoint = self.path.split("?", 1)[0].strip("/")
                hub.requests.append(endpoint)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                hub.answers.get(endpoint, _json(404, {"error": "no such endpoint"}))(self)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))

    def __enter__(self) -> _Hub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def no_thread_left() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = [t for t in set(threading.enumerate()) - before if t.name.startswith("hivemind")]
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError(f"threads left behind: {left}")


def _connect(hub: _Hub, **options: Any) -> HiveMindError:
    options.setdefault("http_timeout", 0.5)
    options.setdefault("poll_interval", 0.05)
    options.setdefault("handshake_timeout", 3.0)
    with HiveMindHTTPClient(
        key="a-key", password="a-password", host="127.0.0.1", port=hub.port, **options
    ) as client:
        with pytest.raises(HiveMindError) as failure:
            client.connect(timeout=10)
        return failure.value


@pytest.mark.parametrize(
    ("answers", "error", "message"),
    [
        ({"connect": _json(403, {"error": "Invalid authorization"})}, ConnectionFailed, "403"),
        ({"connect": _json(500, {"error": "Connection failed"})}, ConnectionFailed, "500"),
        ({"connect": _json(200, {"error": "Missing authorization"})}, ConnectionFailed, "Missing"),
        ({"connect": _raw(b"<html>hello</html>")}, InvalidJSON, "not JSON"),
        ({"connect": _raw(b"[" * 100_000)}, InvalidJSON, "not JSON"),  # deeper than json can go
        ({"connect": _json(200, ["Connected"])}, InvalidJSON, "not an object"),
        ({"get_messages": _json(200, {"messages": "hello"})}, InvalidPayload, "list of strings"),
        ({"get_messages": _json(200, {"messages": [1, 2]})}, InvalidPayload, "list of strings"),
        ({"get_binary_messages": _json(200, {"b64_messages": ["%%%"]})}, InvalidPayload, "base64"),
        ({"get_messages": _json(200, {"messages": ["not a hive message"]})}, HiveMindError, ""),
        ({"get_messages": _json(200, {"error": "Client is not connected"})}, ConnectionFailed, ""),
        ({"connect": _silent}, ConnectionFailed, "Timeout"),
    ],
)
def test_a_bad_answer_is_a_typed_error(
    answers: dict[str, Answer], error: type[HiveMindError], message: str, no_thread_left: None
) -> None:
    with _Hub(answers) as hub:
        started = time.monotonic()
        failure = _connect(hub)
        took = time.monotonic() - started
    assert isinstance(failure, error), repr(failure)
    assert message in str(failure)
    assert took < 8  # not a timing goal: the bound that says "no hang"


@pytest.mark.parametrize(
    "answer",
    [_raw(b"x" * 100, length=10_000_000), _endless],
    ids=["announced", "unannounced"],
)
def test_an_answer_over_max_response_size_is_refused_while_reading(
    answer: Answer, no_thread_left: None
) -> None:
    with _Hub({"get_messages": answer}) as hub:
        failure = _connect(hub, max_response_size=1_000_000)
    assert isinstance(failure, PayloadTooLarge)
    assert "max_response_size 1000000" in str(failure)


def test_a_hub_that_is_not_there_is_a_connection_failure(no_thread_left: None) -> None:
    with _Hub({}) as hub:
        port = hub.port
    client = HiveMindHTTPClient(key="k", password="p", host="127.0.0.1", port=port)
    with client, pytest.raises(ConnectionFailed, match="cannot connect"):
        client.connect(timeout=5)


def test_the_session_is_released_before_and_after() -> None:
    """A session the hub kept for our key would be reused without a HELLO: end it first."""
    with _Hub({}) as hub:
        _connect(hub, handshake_timeout=0.3)
    assert hub.requests[:2] == ["disconnect", "connect"]
    assert hub.requests[-1] == "disconnect"


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 5679, "http://127.0.0.1:5679"),
        ("127.0.0.1", None, "http://127.0.0.1:5679"),
        ("http://hub.local", 8080, "http://hub.local:8080"),
        ("https://hub.local/", None, "https://hub.local:5679"),
        ("ws://hub.local:1234", None, "http://hub.local:1234"),
        ("wss://hub.local", 443, "https://hub.local:443"),
    ],
)
def test_the_base_url(host: str, port: int | None, url: str) -> None:
    client = HiveMindHTTPClient(key="k", password="p", host=host, port=port)
    assert client.url == url
    assert client.hub_pin_id == url.split("://", 1)[1]


def test_options_that_cannot_work_over_http_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="scheme"):
        _ = HiveMindHTTPClient(key="k", password="p", host="ftp://hub").url
    with pytest.raises(InvalidArgument, match="pins"):
        HiveMindHTTPClient(key="k", password="p", host="h", certificate_sha256="ab" * 32)
    client = HiveMindHTTPClient(key="k", password="p", host="h", poll_interval=0)
    with pytest.raises(InvalidArgument, match="poll_interval"):
        client.connect()
    client.close()


def test_the_access_key_stays_out_of_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    with _Hub({"connect": _json(403, {"error": "Invalid authorization"})}) as hub:
        _connect(hub)
    assert "POST http://127.0.0.1" in caplog.text  # httpx did log the request
    assert "authorization=" not in caplog.text
    assert "YS1rZXk" not in caplog.text  # base64 of "a-key", the start of the query value
