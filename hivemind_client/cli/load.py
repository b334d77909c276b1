"""``hivemind-client load``: many satellite sessions from one process, on one event loop.

What a hub operator runs to see how a hub holds up, and what a gateway fronting many devices
looks like to the hub: N sessions of the asyncio client connect at a set rate, then each sends
``--messages`` utterances one after another and waits for every answer. A progress line shows
where it is; the summary says how fast sessions connected, how many answers came back, the
round-trip times, and what it cost this process (CPU per message, memory per session).

Every session presents the identity's Noise static key (a v3 hub pins one static key per
access key, so it must be the same in every run), and the sessions of one access key share an
in-memory key store: the first session of each key connects first, derives the PSK (argon2id,
~0.15 s of CPU on each side) and learns the hub's key; the others reuse both (KKpsk0). The
identity file is read once and never written by the sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import secrets
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from hivemind_client.aio.client import AsyncHiveMessageBusClient
from hivemind_client.cli.support import SECRETS, CliError
from hivemind_client.identity.stores import MemoryNoiseStore
from hivemind_client.wire.message import Message

__all__ = ["LoadPlan", "LoadReport", "read_credentials", "run_load"]

_PROGRESS_EVERY = 0.5  # seconds between progress lines
_MAX_CONNECTING = 64  # connects in flight at once, whatever the rate


@dataclass(frozen=True)
class LoadPlan:
    """What to run: where, with which keys, how many sessions, how fast, how much traffic."""

    host: str
    port: int | None
    credentials: Sequence[tuple[str, str]]
    sessions: int
    rate: float = 50.0
    messages: int = 1
    timeout: float = 30.0
    utterance: str = "what time is it"
    reply_type: str = "speak"
    client_options: dict[str, Any] = field(default_factory=dict)
    static_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    """Our Noise static key (the CLI passes the identity's: the hub pinned it before)."""


@dataclass
class LoadReport:
    """What happened, with the measurements the summary table shows."""

    sessions: int
    connected: int = 0
    connect_seconds: float = 0.0
    connect_times: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    answers: int = 0
    traffic_seconds: float = 0.0
    round_trips: list[float] = field(default_factory=list)
    traffic_cpu_seconds: float = 0.0
    rss_before: int = 0
    rss_connected: int = 0
    protocols: Counter[str] = field(default_factory=Counter)

    def rows(self) -> list[tuple[str, str]]:
        """The summary, as (measure, value) rows."""
        per_session = (
            (self.rss_connected - self.rss_before) / self.connected if self.connected else 0.0
        )
        rows = [
            ("sessions connected", f"{self.connected} of {self.sessions}"),
            ("protocols", ", ".join(f"{k} x{v}" for k, v in sorted(self.protocols.items())) or "-"),
            ("connect rate", _rate(self.connected, self.connect_seconds, "sessions/s")),
            ("connect time p50 / p99", _percentiles(self.connect_times)),
            ("answers", f"{self.answers} of {self.sent}"),
            ("answers per second", _rate(self.answers, self.traffic_seconds, "/s")),
            ("round trip p50 / p99", _percentiles(self.round_trips)),
            (
                "client CPU per message",
                f"{1000 * self.traffic_cpu_seconds / self.answers:.3f} ms" if self.answers else "-",
            ),
            ("RSS per session", f"{per_session / 1024:.1f} KiB"),
        ]
        rows += [(f"failed: {kind}", str(count)) for kind, count in self.failures.most_common()]
        return rows

    def as_json(self) -> dict[str, Any]:
        """Everything, for ``--json`` (times in seconds, memory in bytes)."""
        data = asdict(self)
        data["failures"] = dict(self.failures)
        data["protocols"] = dict(self.protocols)
        return data


class _StaticKey:
    """The one thing a session asks of an identity here: the Noise static key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def noise_private_key(self) -> bytes:
        return self._key


class _Session:
    __slots__ = ("client", "index", "key", "password")

    def __init__(self, index: int, key: str, password: str) -> None:
        self.index, self.key, self.password = index, key, password
        self.client: AsyncHiveMessageBusClient | None = None


async def run_load(plan: LoadPlan, progress: Callable[[LoadReport, str], None]) -> LoadReport:
    """Connect every session at ``plan.rate`` per second, then run the traffic; close all."""
    if not plan.credentials:
        raise CliError("no access key to connect with")
    report = LoadReport(sessions=plan.sessions)
    identity = _StaticKey(plan.static_key)
    stores = {key: MemoryNoiseStore(key) for key, _ in plan.credentials}
    sessions = [
        _Session(n, *plan.credentials[n % len(plan.credentials)]) for n in range(plan.sessions)
    ]
    report.rss_before = _rss()
    ticker = asyncio.ensure_future(_tick(report, progress))
    try:
        await _connect_all(plan, sessions, identity, stores, report)
        report.rss_connected = _rss()
        await _traffic(plan, [s for s in sessions if s.client is not None], report)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        progress(report, "closing")
        await asyncio.gather(
            *(s.client.close() for s in sessions if s.client is not None),
            return_exceptions=True,
        )
    progress(report, "done")
    return report


async def _connect_all(
    plan: LoadPlan,
    sessions: list[_Session],
    identity: _StaticKey,
    stores: dict[str, MemoryNoiseStore],
    report: LoadReport,
) -> None:
    loop = asyncio.get_running_loop()
    in_flight = asyncio.Semaphore(_MAX_CONNECTING)
    started = loop.time()
    first_of_key: dict[str, int] = {}
    for session in sessions:
        first_of_key.setdefault(session.key, session.index)
    warmed: dict[str, asyncio.Event] = {key: asyncio.Event() for key in first_of_key}

    async def connect(session: _Session) -> None:
        await asyncio.sleep(max(0.0, started + session.index / plan.rate - loop.time()))
        if first_of_key[session.key] != session.index:
            await warmed[session.key].wait()  # the first session of the key derived the PSK
        try:
            await open_session(session)
        finally:
            if first_of_key[session.key] == session.index:
                warmed[session.key].set()

    async def open_session(session: _Session) -> None:
        async with in_flight:
            client = AsyncHiveMessageBusClient(
                key=session.key,
                password=session.password,
                host=plan.host,
                port=plan.port,
                identity=identity,
                # the handshake deadline also runs while our argon2id waits in the executor
                # behind other sessions' (a busy load run): give it the command's timeout
                handshake_timeout=plan.timeout,
                **plan.client_options,
            )
            client.noise_store = stores[session.key]  # one PSK derivation per access key
            begun = loop.time()
            try:
                info = await client.connect(site_id=f"load-{session.index}", timeout=plan.timeout)
            except Exception as exc:  # every failure is counted by kind, none stops the run
                report.failures[_kind(exc)] += 1
                await client.close()
                return
            session.client = client
            report.connected += 1
            report.connect_times.append(loop.time() - begun)
            report.protocols[f"v{info.protocol_version} {info.handshake}"] += 1

    await asyncio.gather(*(connect(session) for session in sessions))
    report.connect_seconds = loop.time() - started


async def _traffic(plan: LoadPlan, sessions: list[_Session], report: LoadReport) -> None:
    loop = asyncio.get_running_loop()
    cpu = _cpu()
    started = loop.time()

    async def talk(session: _Session) -> None:
        client = session.client
        assert client is not None
        for n in range(plan.messages):
            text = f"{plan.utterance} ({session.index}.{n})"
            message = Message("recognizer_loop:utterance", {"utterances": [text], "lang": "en-US"})
            report.sent += 1
            begun = loop.time()
            try:
                answer = await client.wait_for_response(
                    message, plan.reply_type, timeout=plan.timeout
                )
            except Exception as exc:
                report.failures[_kind(exc)] += 1
                return
            if answer is None:
                report.failures[f"no {plan.reply_type} within {plan.timeout:g} s"] += 1
                continue
            report.answers += 1
            report.round_trips.append(loop.time() - begun)

    await asyncio.gather(*(talk(session) for session in sessions))
    report.traffic_seconds = loop.time() - started
    report.traffic_cpu_seconds = _cpu() - cpu


async def _tick(report: LoadReport, progress: Callable[[LoadReport, str], None]) -> None:
    while True:
        phase = "connecting" if report.sent == 0 else "talking"
        progress(report, phase)
        await asyncio.sleep(_PROGRESS_EVERY)


def read_credentials(path: str) -> list[tuple[str, str]]:
    """``KEY PASSWORD`` per line (``#`` comments and blank lines skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    credentials: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2:
            raise CliError(f"{path}:{number}: expected 'KEY PASSWORD', found {len(words)} words")
        credentials.append((words[0], words[1]))
    if not credentials:
        raise CliError(f"{path} holds no 'KEY PASSWORD' line")
    return credentials


def print_progress(stream: TextIO) -> Callable[[LoadReport, str], None]:
    """A live progress line on a terminal (rewritten in place), one line per phase otherwise."""
    last = [""]
    live = stream.isatty()

    def show(report: LoadReport, phase: str) -> None:
        line = (
            f"{phase:<10} connected {report.connected}/{report.sessions}"
            f"  answers {report.answers}/{report.sent}"
            f"  failed {sum(report.failures.values())}"
        )
        if live:
            stream.write("\r" + line.ljust(78))
            if phase == "done":
                stream.write("\n")
        elif phase != last[0]:
            stream.write(line + "\n")
        last[0] = phase
        stream.flush()

    return show


def format_table(report: LoadReport) -> str:
    """The summary as a two-column text table."""
    rows = report.rows()
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def load(args: Any) -> int:
    """The ``load`` command."""
    from hivemind_client.cli.support import load_identity, resolve_settings

    settings = resolve_settings(args, load_identity(args))
    if not settings.host:
        raise CliError("no hub address: give --host (or set it in the identity)")
    if args.keys:
        credentials = read_credentials(args.keys)
        SECRETS.add([word for pair in credentials for word in pair])
    else:
        if not settings.key or not settings.password:
            raise CliError("give --keys FILE, or --key and --password (or an identity with them)")
        credentials = [(settings.key, settings.password)]
    identity = load_identity(args)
    plan = LoadPlan(
        static_key=identity.noise_private_key(),  # the hub pinned this one for our keys
        host=settings.host,
        port=settings.port,
        credentials=credentials,
        sessions=args.sessions,
        rate=args.rate,
        messages=args.messages,
        timeout=args.timeout,
        utterance=args.utterance,
    )
    _raise_file_limit(plan.sessions)
    report = asyncio.run(run_load(plan, print_progress(sys.stderr)))
    print(format_table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_json(), indent=2) + "\n")
    return 0 if report.connected == plan.sessions and report.answers == report.sent else 1


def _raise_file_limit(sessions: int) -> None:
    """Each session holds a socket: lift the soft limit to the hard one when it is short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sessions + 256
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _kind(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    label = code if isinstance(code, str) else type(exc).__name__
    return f"{label}: {' '.join(str(exc).split())[:80]}"


def _rate(count: int, seconds: float, unit: str) -> str:
    return f"{count / seconds:.1f} {unit}" if seconds > 0 and count else "-"


def _percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]

    return f"{1000 * at(0.5):.1f} ms / {1000 * at(0.99):.1f} ms"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
