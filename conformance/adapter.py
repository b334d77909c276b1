"""Implementations behind a pipe: the newline-delimited JSON adapter protocol.

An adapter is any program that reads one JSON request per line on stdin and writes one JSON
response per line on stdout, in order:

    request   {"id": 7, "operation": "decode_frame", "inputs": {"frame_hex": "82..."}}
    response  {"id": 7, "outputs": {...}}                       success
              {"id": 7, "error": "truncated-frame", "message": "..."}   the operation failed
              {"id": 7, "unsupported": true}                    the adapter lacks the operation

The first request is always {"id": 0, "operation": "hello", "inputs": {}}; the answer's
outputs name the implementation: {"implementation": "...", "operations": [...]}.
The runner closes stdin when done; the adapter then exits. See conformance/README.md.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any

from .impl import OperationFailed, Unsupported

__all__ = ["AdapterError", "ProcessImplementation", "serve"]

DEFAULT_TIMEOUT = 60.0


class AdapterError(Exception):
    """The adapter process broke the protocol, died, or did not answer in time."""


class ProcessImplementation:
    """Drives an adapter process over its stdin/stdout."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        cwd: str | None = None,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self._next_id = 0
        self._process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=cwd,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(
            target=self._pump, args=(self._process.stdout, self._lines), daemon=True
        ).start()
        threading.Thread(target=self._drain, args=(self._process.stderr,), daemon=True).start()
        hello = self._exchange("hello", {})
        self.operations = set(hello.get("outputs", {}).get("operations", []))
        self.description = hello.get("outputs", {}).get("implementation", name)

    @staticmethod
    def _pump(stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
        assert stream is not None
        for line in stream:
            lines.put(line)
        lines.put(None)

    def _drain(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self._stderr.append(line)
            del self._stderr[:-20]

    def _exchange(self, operation: str, inputs: dict[str, Any]) -> dict[str, Any]:
        request_id = self._next_id
        self._next_id += 1
        stdin = self._process.stdin
        if stdin is None or self._process.poll() is not None:
            raise AdapterError(f"{self.name}: adapter process is not running{self._tail()}")
        try:
            stdin.write(
                json.dumps({"id": request_id, "operation": operation, "inputs": inputs}) + "\n"
            )
            stdin.flush()
        except OSError as exc:
            raise AdapterError(
                f"{self.name}: cannot write to the adapter ({exc}){self._tail()}"
            ) from None
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            raise AdapterError(
                f"{self.name}: no answer to {operation} within {self.timeout:.0f} s"
            ) from None
        if line is None:
            raise AdapterError(f"{self.name}: adapter exited{self._tail()}")
        try:
            response = json.loads(line)
        except ValueError:
            raise AdapterError(f"{self.name}: answer is not JSON: {line[:200]!r}") from None
        if not isinstance(response, dict) or response.get("id") != request_id:
            raise AdapterError(f"{self.name}: answer out of order: {line[:200]!r}")
        return response

    def _tail(self) -> str:
        return ("; stderr: " + "".join(self._stderr[-5:]).strip()) if self._stderr else ""

    def call(self, operation: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run one operation in the adapter process."""
        response = self._exchange(operation, inputs)
        if response.get("unsupported"):
            raise Unsupported(operation)
        if "error" in response:
            raise OperationFailed(str(response["error"]), str(response.get("message", "")))
        outputs = response.get("outputs")
        if not isinstance(outputs, dict):
            raise AdapterError(f"{self.name}: answer to {operation} has no outputs object")
        return outputs

    def close(self) -> None:
        """Close stdin and wait for the adapter to exit (kill it if it does not)."""
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def serve(
    implementation: str,
    operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]],
    error_code: Callable[[BaseException], str | None],
    stdin: IO[str] = sys.stdin,
    stdout: IO[str] = sys.stdout,
) -> None:
    """The adapter side of the protocol, for Python implementations.

    ``error_code`` maps an exception raised by an operation to an error code, or None when the
    exception is not an expected failure (it is then reported as ``exception:<ClassName>``).
    Standard library only, so it also runs under another implementation's interpreter.
    """
    for line in stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        request_id, operation = request.get("id"), request.get("operation")
        response: dict[str, Any] = {"id": request_id}
        if operation == "hello":
            response["outputs"] = {
                "implementation": implementation,
                "operations": sorted(operations),
            }
        elif operation not in operations:
            response["unsupported"] = True
        else:
            try:
                response["outputs"] = operations[operation](request.get("inputs") or {})
            except Exception as exc:  # every failure is an answer, never a crash of the adapter
                code = error_code(exc)
                response["error"] = code or f"exception:{type(exc).__name__}"
                response["message"] = str(exc)[:500]
        stdout.write(json.dumps(response) + "\n")
        stdout.flush()
