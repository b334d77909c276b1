"""One variant of the scale bench in its own process: N satellite sessions, then a round trip each.

    PYTHON bench/scale/scale_worker.py --variant ours-async|ours-threaded|reference \
        --port PORT --keys KEYS.json --out RESULT.json [--connect-concurrency 16] [--rounds 3]

Runs under our venv (``ours-*``) and under the reference's (``reference``: hivemind_bus_client
1.2.12a1's ``AsyncHiveMessageBusClient``, from ``.venvs/ref-1.2-async``) alike, so the module
itself uses the standard library only and imports the client under test inside its variant.
Each process measures itself the same way:

- connect: every session connects (``--connect-concurrency`` at a time), each with its own
  access key and password from ``KEYS.json`` (a list of ``[key, password]``); the rate is
  sessions connected / wall time of the phase;
- RSS per session: (RSS after the connects - RSS before) / sessions connected;
- idle CPU: this process's CPU time over ``--idle-seconds`` with every session connected and
  nothing sent, as a percentage of one core;
- round trips: ``--rounds`` times, every connected session sends one BUS
  ``recognizer_loop:utterance`` at once and waits for its ``speak``; answers per second is
  answers / wall time, CPU per message is this process's CPU time during the phase / answers;
- failures by kind, and where the connects stopped (after ``--max-failures``).

The result is one JSON object written to ``--out`` (not stdout: the reference logs there).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import resource
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from bench.common.procs import tree_cpu_seconds

VARIANTS = ("ours-async", "ours-threaded", "reference")
UTTERANCE = "recognizer_loop:utterance"


# ------------------------------------------------------------------------------ measurements
def cpu_seconds() -> float:
    """User + system CPU time of this process, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    """Resident set size now (not the peak)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def thread_count() -> int:
    """OS threads of this process (every library's, not only Python's)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def raise_nofile() -> tuple[int, int]:
    """RLIMIT_NOFILE soft up to hard: each session holds a socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def failure_kind(exc: BaseException) -> str:
    """A short, stable label for a failure: the error code or class, and the first words."""
    code = getattr(exc, "code", None)
    label = code if isinstance(code, str) else type(exc).__name__
    return f"{label}: {str(exc)[:120]}"


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (None for no samples)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def ours_options(args: Any) -> dict[str, Any]:
    """Options for our clients: the handshake deadline, when the bench sets one."""
    if args.handshake_timeout is None:
        return {}
    return {"handshake_timeout": args.handshake_timeout}


# ------------------------------------------------------------------------------ one session
class Session:
    """What every variant provides: connect, one round trip, close (all blocking or all async)."""

    def __init__(self, index: int, key: str, password: str) -> None:
        self.index = index
        self.key = key
        self.password = password
        self.client: Any = None


def utterance_text(session: Session, round_index: int) -> str:
    """A text the answer must echo, unique per session and round."""
    return f"scale {session.index} round {round_index}"


# ------------------------------------------------------------------------------ async variants
class AsyncDriver:
    """ours-async and reference: every session on one event loop."""

    def __init__(
        self, variant: str, host: str, port: int, timeout: float, options: dict[str, Any]
    ) -> None:
        self.variant = variant
        self.options = options  # ours only: client options
        self.host = host
        self.port = port
        self.timeout = timeout
        if variant == "ours-async":
            from hivemind_client import Message
            from hivemind_client.aio import AsyncHiveMessageBusClient

            self.client_class: Any = AsyncHiveMessageBusClient
            self.message_class: Any = Message
        else:
            from hivemind_bus_client.async_client import (  # type: ignore[import-not-found]
                AsyncHiveMessageBusClient as Reference,
            )
            from ovos_bus_client.message import (  # type: ignore[import-not-found]
                Message as OvosMessage,
            )

            self.client_class, self.message_class = Reference, OvosMessage

    async def connect(self, session: Session) -> None:
        kwargs: dict[str, Any] = {
            "key": session.key,
            "password": session.password,
            "host": self.host,
            "port": self.port,
        }
        if self.variant == "ours-async":
            session.client = self.client_class(**kwargs, **self.options)
            await session.client.connect(timeout=self.timeout)
        else:
            session.client = self.client_class(useragent="scale-bench", **kwargs)
            await asyncio.wait_for(
                session.client.connect(handshake_max_retries=1), timeout=self.timeout
            )

    async def round_trip(self, session: Session, round_index: int) -> bool:
        text = utterance_text(session, round_index)
        message = self.message_class(UTTERANCE, {"utterances": [text], "lang": "en-US"})
        reply = await session.client.wait_for_response(message, "speak", timeout=self.timeout)
        if reply is None:
            return False
        payload = getattr(reply, "payload", reply)  # the reference answers with the HiveMessage
        data = getattr(payload, "data", None) or {}
        return bool(data.get("utterance") == f"echo: {text}")

    async def close(self, session: Session) -> None:
        if session.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.client.close(), timeout=self.timeout)


async def run_async(driver: AsyncDriver, sessions: list[Session], args: Any) -> dict[str, Any]:
    """Connect with bounded concurrency, then every session's round trips at once."""
    limit = asyncio.Semaphore(args.connect_concurrency)
    connected: list[Session] = []
    failures: Counter[str] = Counter()
    stopped: dict[str, Any] = {}
    times: list[float] = []

    async def connect_one(session: Session) -> None:
        async with limit:
            if stopped:
                return
            started = time.perf_counter()
            try:
                await driver.connect(session)
            except Exception as exc:
                failures[failure_kind(exc)] += 1
                await driver.close(session)
                if sum(failures.values()) >= args.max_failures and not stopped:
                    stopped.update({"after_connected": len(connected), "at_session": session.index})
                return
            times.append(time.perf_counter() - started)
            connected.append(session)

    return await phases(
        sessions,
        connected,
        failures,
        stopped,
        times,
        connect_all=lambda: asyncio.gather(*(connect_one(s) for s in sessions)),
        round_all=lambda r: asyncio.gather(*(_guarded(driver.round_trip(s, r)) for s in connected)),
        close_all=lambda: asyncio.gather(*(driver.close(s) for s in connected)),
        args=args,
    )


async def _guarded(call: Awaitable[bool]) -> bool | str:
    try:
        return await call
    except Exception as exc:
        return failure_kind(exc)


async def phases(
    sessions: list[Session],
    connected: list[Session],
    failures: Counter[str],
    stopped: dict[str, Any],
    times: list[float],
    *,
    connect_all: Callable[[], Awaitable[Any]],
    round_all: Callable[[int], Awaitable[list[Any]]],
    close_all: Callable[[], Awaitable[Any]],
    args: Any,
) -> dict[str, Any]:
    """The measured phases, shared by every variant (threaded ones wrap their pool in awaitables)."""
    gc.collect()
    rss_before, cpu_before = rss_bytes(), cpu_seconds()
    target_before = tree_cpu_seconds(args.target_pid)
    started = time.perf_counter()
    await connect_all()
    connect_wall = time.perf_counter() - started
    connect_cpu = cpu_seconds() - cpu_before
    target_connect = tree_cpu_seconds(args.target_pid) - target_before
    gc.collect()
    rss_after = rss_bytes()
    threads_connected = thread_count()
    cpu_before = cpu_seconds()  # connected and silent: what merely holding the sessions costs
    await asyncio.sleep(args.idle_seconds)
    idle_cpu = cpu_seconds() - cpu_before
    result: dict[str, Any] = {
        "sessions": len(sessions),
        "connected": len(connected),
        "connect_failures": dict(failures),
        "stopped": stopped or None,
        "connect_wall_s": connect_wall,
        "connect_rate": len(connected) / connect_wall if connect_wall else 0.0,
        "connect_median_s": percentile(times, 0.5),
        "connect_p99_s": percentile(times, 0.99),
        "connect_cpu_per_session_s": connect_cpu / len(connected) if connected else None,
        "target_connect_cpu_per_session_s": target_connect / len(connected)
        if connected and args.target_pid
        else None,
        "rss_before_mib": rss_before / 2**20,
        "rss_after_mib": rss_after / 2**20,
        "rss_per_session_kib": (rss_after - rss_before) / 1024 / len(connected)
        if connected
        else None,
        "threads_connected": threads_connected,
        "idle_cpu_percent": idle_cpu / args.idle_seconds * 100 if args.idle_seconds else None,
    }
    answers, lost = 0, Counter[str]()
    wall = cpu = target = 0.0
    for round_index in range(args.rounds if connected else 0):
        cpu_before = cpu_seconds()
        target_before = tree_cpu_seconds(args.target_pid)
        started = time.perf_counter()
        outcomes = await round_all(round_index)
        wall += time.perf_counter() - started
        cpu += cpu_seconds() - cpu_before
        target += tree_cpu_seconds(args.target_pid) - target_before
        answers += sum(1 for outcome in outcomes if outcome is True)
        lost.update("no answer" if o is False else o for o in outcomes if o is not True)
    result.update(
        {
            "rounds": args.rounds,
            "answers": answers,
            "round_trip_failures": dict(lost),
            "messages_wall_s": wall,
            "answers_per_s": answers / wall if wall else 0.0,
            "cpu_per_message_ms": cpu / answers * 1000 if answers else None,
            "target_cpu_per_message_ms": target / answers * 1000
            if answers and args.target_pid
            else None,
            "threads_peak": thread_count(),
        }
    )
    started = time.perf_counter()
    await close_all()
    result["close_wall_s"] = time.perf_counter() - started
    return result


# ------------------------------------------------------------------------------ threaded variant
def run_threaded(sessions: list[Session], args: Any) -> dict[str, Any]:
    """ours-threaded: HiveMessageBusClient (a reader and a dispatcher thread each), from pools."""
    from hivemind_client import Message
    from hivemind_client.sync.client import HiveMessageBusClient

    connected: list[Session] = []
    failures: Counter[str] = Counter()
    stopped: dict[str, Any] = {}
    times: list[float] = []
    lock = threading.Lock()

    def connect_one(session: Session) -> None:
        if stopped:
            return
        started = time.perf_counter()
        client = HiveMessageBusClient(
            key=session.key,
            password=session.password,
            host=args.host,
            port=args.port,
            **ours_options(args),
        )
        session.client = client
        try:
            client.connect(timeout=args.timeout)
        except Exception as exc:
            client.close()
            with lock:
                failures[failure_kind(exc)] += 1
                if sum(failures.values()) >= args.max_failures and not stopped:
                    stopped.update({"after_connected": len(connected), "at_session": session.index})
            return
        with lock:
            times.append(time.perf_counter() - started)
            connected.append(session)

    def round_trip(session: Session, round_index: int) -> bool | str:
        text = utterance_text(session, round_index)
        message = Message(UTTERANCE, {"utterances": [text], "lang": "en-US"})
        try:
            reply = session.client.wait_for_response(message, "speak", timeout=args.timeout)
        except Exception as exc:
            return failure_kind(exc)
        return reply is not None and reply.data.get("utterance") == f"echo: {text}"

    # every round trip in flight at once, as in the async variants: one pool thread per session
    messages_pool: list[ThreadPoolExecutor] = []

    async def connect_all() -> None:
        with ThreadPoolExecutor(args.connect_concurrency, thread_name_prefix="connect") as pool:
            await asyncio.wrap_future(_all(pool, [(connect_one, (s,)) for s in sessions]))

    async def round_all(round_index: int) -> list[Any]:
        if not messages_pool:
            messages_pool.append(
                ThreadPoolExecutor(max(1, len(connected)), thread_name_prefix="trip")
            )
        futures = [messages_pool[0].submit(round_trip, s, round_index) for s in connected]
        return [await asyncio.wrap_future(f) for f in futures]

    async def close_all() -> None:
        for pool in messages_pool:
            pool.shutdown()
        with ThreadPoolExecutor(args.connect_concurrency) as pool:
            list(pool.map(lambda s: s.client.close(), connected))

    return asyncio.run(
        phases(
            sessions,
            connected,
            failures,
            stopped,
            times,
            connect_all=connect_all,
            round_all=round_all,
            close_all=close_all,
            args=args,
        )
    )


def _all(pool: ThreadPoolExecutor, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> Any:
    """One future finishing when every call in ``calls`` has run on ``pool``."""
    from concurrent.futures import Future, wait

    done: Future[None] = Future()
    futures = [pool.submit(function, *arguments) for function, arguments in calls]

    def waiter() -> None:
        wait(futures)
        done.set_result(None)

    threading.Thread(target=waiter, daemon=True).start()
    return done


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    """Run one variant and write its result."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", required=True, help="JSON file: [[access_key, password], ...]")
    parser.add_argument("--out", required=True)
    parser.add_argument("--connect-concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--max-failures", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="connected, silent")
    parser.add_argument(
        "--handshake-timeout",
        type=float,
        help="our clients' handshake deadline (the library's default is 10 s)",
    )
    parser.add_argument("--target-pid", type=int, help="the hub's pid: its CPU per phase too")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)  # the reference logs every connect at INFO
    nofile = raise_nofile()
    keys = json.loads(Path(args.keys).read_text())
    sessions = [Session(i, key, password) for i, (key, password) in enumerate(keys)]
    started = time.perf_counter()
    try:
        if args.variant == "ours-threaded":
            result = run_threaded(sessions, args)
        else:
            driver = AsyncDriver(
                args.variant, args.host, args.port, args.timeout, ours_options(args)
            )
            result = asyncio.run(run_async(driver, sessions, args))
    except ImportError as exc:  # e.g. hivemind_client.aio before it lands
        result = {"error": f"unavailable: {exc}"}
    result.update(
        {
            "variant": args.variant,
            "connect_concurrency": args.connect_concurrency,
            "nofile": list(nofile),
            "python": sys.version.split()[0],
            "total_wall_s": time.perf_counter() - started,
        }
    )
    Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
