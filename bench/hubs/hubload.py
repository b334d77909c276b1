"""Load rows through a real hub: one-way throughput, CPU per 10,000 messages, RSS per client.

Each side runs bench/hubs/load_worker.py in its own process (ours under .venv, the reference under
its venv); this module starts the workers and counts what arrives at the far end:

- BUS (client -> hub -> OVOS messagebus): the hub fixture's bus echo helper records every bus
  message with its arrival time (``hub.bus_record``, JSON lines, ``time.time()``); a message
  counts when its type is ``bench.flood`` and its ``data.run`` is this run's id.
- BINARY (client -> hub): the hub decodes, decrypts and hands each RAW_AUDIO message to its
  binary-data protocol, whose default handler logs ``Ignoring received binary audio input:
  N bytes`` at WARNING with a millisecond timestamp; a message counts when that line shows up
  in ``hub.hub_log`` (read from the offset where the run started).

Throughput is messages counted / (last arrival - first send), both on this machine's clock.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common.procs import tree_cpu_seconds

WORKER = Path(__file__).resolve().with_name("load_worker.py")  # run by path, under either venv
_STAMP = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)")


class Tail:
    """New complete lines of a growing file, from the size it had when created."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self._partial = b""

    def lines(self) -> list[bytes]:
        """Every complete line added since the last call."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        self.offset += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        return complete


@dataclass
class Side:
    """Which interpreter and credentials one side's workers use."""

    impl: str  # ours | ref07 | ref12
    python: str
    key: str
    password: str
    home: str


class Worker:
    """One load_worker.py process; ``result`` is its RESULT line."""

    def __init__(
        self, side: Side, hub: Any, *command: str, on_ready: Callable[[], object] | None = None
    ) -> None:
        argv = [side.python, str(WORKER), "--impl", side.impl, "--hub", hub.version]
        argv += ["--port", str(hub.port), "--key", side.key, "--password", side.password]
        argv += ["--home", side.home, *command]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finish())
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.startswith("READY") and on_ready is not None:
                on_ready()
            if line.startswith("RESULT "):
                self.result: dict[str, Any] = json.loads(line[len("RESULT ") :])
                return
        self._process.wait()
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace")[-3000:]
        raise RuntimeError(
            f"load worker {side.impl} {command} failed ({self._process.returncode}):\n{tail}"
        )

    def finish(self) -> None:
        """Let the worker close its clients and exit."""
        assert self._process.stdin is not None
        self._process.stdin.write("done\n")
        self._process.stdin.close()
        try:
            self._process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._stderr.close()


def _arrivals_bus(tail: Tail, run: str) -> list[float]:
    times = []
    for line in tail.lines():
        if b"bench.flood" not in line:
            continue
        record = json.loads(line)
        if record.get("type") == "bench.flood" and (record.get("data") or {}).get("run") == run:
            times.append(float(record["t"]))
    return times


def _arrivals_binary(tail: Tail, size: int) -> list[float]:
    marker = f"Ignoring received binary audio input: {size} bytes".encode()
    times = []
    for line in tail.lines():
        if marker in line:
            stamp = _STAMP.match(line)
            if stamp:
                times.append(datetime.fromisoformat(stamp.group(1).decode()).timestamp())
    return times


def flood_run(
    side: Side, hub: Any, kind: str, count: int, size: int, stall: float = 15.0
) -> dict[str, float | None]:
    """Send ``count`` messages from a fresh worker; rate, CPU per 10k and what was lost."""
    run = f"{side.impl}-{time.time_ns()}"
    tail = Tail(hub.bus_record if kind == "bus" else hub.hub_log)
    # the hub's CPU from the moment the worker is connected and settled until the last arrival
    ready: list[float] = []
    worker = Worker(
        side,
        hub,
        "flood",
        *("--kind", kind, "--count", str(count), "--size", str(size), "--run", run),
        on_ready=lambda: ready.extend((tree_cpu_seconds(hub.hub_pid), time.monotonic())),
    )
    arrived: list[float] = []
    last_progress = time.monotonic()
    try:
        while len(arrived) < count and time.monotonic() - last_progress < stall:
            new = _arrivals_bus(tail, run) if kind == "bus" else _arrivals_binary(tail, size)
            if new:
                arrived += new
                last_progress = time.monotonic()
            else:
                time.sleep(0.05)
        hub_end = tree_cpu_seconds(hub.hub_pid), last_progress
    finally:
        worker.finish()
    result = worker.result
    elapsed = (max(arrived) - result["t0"]) if arrived else float("nan")
    hub_cpu = hub_end[0] - ready[0] if ready and arrived else None
    return {
        "hub_cpu_per_msg": hub_cpu / len(arrived) if hub_cpu is not None else None,
        "hub_busy": hub_cpu / max(1e-3, hub_end[1] - ready[1]) if hub_cpu is not None else None,
        "rate": len(arrived) / elapsed if arrived else 0.0,
        "cpu_per_10k": result["cpu"] / count * 10_000,
        "send_loop": result["t_sent"] - result["t0"],
        "lost": count - len(arrived),
    }


def memory_run(side: Side, hub: Any, clients: int) -> dict[str, float]:
    """RSS per connected client with ``clients`` clients in one worker process."""
    worker = Worker(side, hub, "memory", "--clients", str(clients))
    worker.finish()
    return worker.result


if __name__ == "__main__":
    sys.exit("import this module (bench/suite.py uses it)")
