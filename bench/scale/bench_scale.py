"""The scale bench: N concurrent satellite sessions (protocol v3, Noise) from one process.

    .venv/bin/python bench/scale/bench_scale.py --sessions 1000 --target hub|scripted|both \
        --variants ours-async,ours-threaded,reference [--quick] [--json OUT]

For each target, each variant runs in its own process (bench/scale/scale_worker.py; the
reference under ``.venvs/ref-1.2-async``) so that its CPU time and RSS are its own: it connects
N sessions, each with a fresh access key and password, then every session sends a BUS
``recognizer_loop:utterance`` and waits for its ``speak``, ``--rounds`` times. Variants:

- ``ours-async``: ``hivemind_client.aio.AsyncHiveMessageBusClient``, one event loop;
- ``ours-threaded``: ``HiveMessageBusClient`` (a reader and a dispatcher thread per client),
  connected from a pool of ``--connect-concurrency`` threads, round trips from a pool of N;
- ``reference``: hivemind_bus_client 1.2.12a1's ``AsyncHiveMessageBusClient``, one event loop.

Targets:

- ``hub``: a real hivemind-core 5.3 hub with its OVOS messagebus and the bus echo
  (tests/e2e/hubs.py). The keys are written into its client database in one process
  (bench/scale/register_keys.py) before it starts; the hub derives each password's PSK with
  argon2id on its pool of 2 threads, as every client does on its side;
- ``scripted``: bench/scale/scripted_hub.py, the hub side of v3 and an instant ``speak``, one
  password and no per-session argon2id on the hub: the client-side ceiling.

Prints a Markdown table (stdout) and its progress (stderr); ``--json`` keeps every number.
``--quick`` is 20 sessions, 1 round (the CI smoke test runs it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from bench.common.paths import BENCH
from bench.common.worker import oracle_python
from hivemind_client import Message
from hivemind_client.security.hivemind_noise import derive_psk
from hivemind_client.sync.client import HiveMessageBusClient
from tests.e2e.hubs import DEFAULT_ALLOWED, RunningHub

__all__ = ["main"]

WORKER = BENCH / "scale" / "scale_worker.py"
SCRIPTED_HUB = BENCH / "scale" / "scripted_hub.py"
REGISTER = BENCH / "scale" / "register_keys.py"
VARIANTS = ("ours-async", "ours-threaded", "reference")
TARGETS = ("hub", "scripted")
REFERENCE_ENV = "ref-1.2-async"


def log(text: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def raise_nofile() -> tuple[int, int]:
    """RLIMIT_NOFILE soft up to hard; the hubs and workers we start inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def new_keys(count: int, prefix: str) -> list[tuple[str, str]]:
    """(access key, password) pairs: a password of 128 random bits each (5.3 checks strength)."""
    return [
        (f"{prefix}{index:05d}{secrets.token_hex(4)}", secrets.token_hex(16))
        for index in range(count)
    ]


def isolated_env(home: Path) -> dict[str, str]:
    """The worker's environment: HOME and XDG dirs in a temporary directory (the reference
    writes its identity, pins and PSK cache there)."""
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
    )
    return env


def argon2_seconds() -> float:
    """Wall time of one argon2id PSK derivation (t=3, m=64 MiB) here, best of 3."""
    best = float("inf")
    for index in range(3):
        started = time.perf_counter()
        derive_psk(f"scale-bench-{index}", "node")
        best = min(best, time.perf_counter() - started)
    return best


# ---------------------------------------------------------------------------------- targets
class Target:
    """Where the workers connect: host, port, the pid whose CPU counts as the hub's."""

    name = ""
    host = "127.0.0.1"
    port = 0
    pid: int | None = None

    def register(self, keys: list[tuple[str, str]]) -> None:
        """Make ``keys`` known to the hub (nothing to do for the scripted one)."""

    def notes(self) -> list[str]:
        """What the hub said about this variant's run (errors in its log)."""
        return []


class RealHub(Target):
    """hivemind-core 5.3 with its OVOS bus and the echo (tests/e2e/hubs.py)."""

    name = "hub 5.3"

    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self._log_offset = 0

    def register(self, keys: list[tuple[str, str]]) -> None:
        with tempfile.TemporaryDirectory(prefix="scale-keys-") as tmp:
            rows = Path(tmp) / "keys.json"
            allowed = Path(tmp) / "allowed.json"
            rows.write_text(json.dumps([[f"scale-{k}", k, p] for k, p in keys]))
            allowed.write_text(json.dumps(list(DEFAULT_ALLOWED)))
            started = time.perf_counter()
            done = subprocess.run(
                [str(self.hub.python), str(REGISTER), str(rows), str(allowed)],
                env=self.hub.env,
                cwd=self.hub.tmp_dir,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            if done.returncode != 0:
                raise SystemExit(f"registering keys failed:\n{done.stdout}\n{done.stderr}")
            log(
                f"registered {len(keys)} keys in {time.perf_counter() - started:.1f} s "
                f"(clients now: {done.stdout.strip().splitlines()[-1]})"
            )

    @property
    def pid(self) -> int | None:  # type: ignore[override]
        return self.hub.hub_pid

    @property
    def port(self) -> int:  # type: ignore[override]
        assert self.hub.port is not None
        return self.hub.port

    def mark(self) -> None:
        """Where the hub's log stands before a variant runs."""
        self._log_offset = self.hub.hub_log.stat().st_size if self.hub.hub_log.exists() else 0

    def notes(self) -> list[str]:
        if not self.hub.hub_log.exists():
            return []
        with open(self.hub.hub_log, "rb") as log_file:
            log_file.seek(self._log_offset)
            lines = log_file.read().decode(errors="replace").splitlines()
        errors: dict[str, int] = {}
        for line in lines:
            if " - ERROR - " in line or " - CRITICAL - " in line or "Traceback" in line:
                text = line.split(" - ", 3)[-1][:140]
                errors[text] = errors.get(text, 0) + 1
        alive = "alive" if self.hub.running else "DEAD"
        top = sorted(errors.items(), key=lambda item: -item[1])[:4]
        return [f"hub process {alive}; {sum(errors.values())} error lines"] + [
            f"{count} x {text}" for text, count in top
        ]


class ScriptedTarget(Target):
    """bench/scale/scripted_hub.py in its own process."""

    name = "scripted hub (client-side ceiling)"

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.pid = process.pid


@contextlib.contextmanager
def real_hub(keys: list[tuple[str, str]]) -> Iterator[RealHub]:
    """Hub 5.3 started after ``keys`` are in its database; logs at INFO (DEBUG costs CPU)."""
    with RunningHub("5.3", log_level="INFO", max_lifetime=7200, start=False) as hub:
        target = RealHub(hub)
        target.register(keys)
        hub.start()
        yield target


@contextlib.contextmanager
def scripted_hub(password: str) -> Iterator[ScriptedTarget]:
    """The scripted hub with one ``password`` for every key; stopped by closing its stdin (it
    also stops after two hours)."""
    with tempfile.TemporaryDirectory(prefix="scale-scripted-") as tmp:
        ready = Path(tmp) / "port"
        process = subprocess.Popen(
            [
                sys.executable,
                str(SCRIPTED_HUB),
                f"--ready={ready}",
                f"--password={password}",
                "--lifetime=7200",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not (ready.exists() and ready.read_text().strip()):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the scripted hub did not start")
                time.sleep(0.05)
            yield ScriptedTarget(process, int(ready.read_text()))
        finally:
            try:
                stats, _ = process.communicate(timeout=30)  # closes its stdin: it stops
                log(f"scripted hub: {stats.strip()}")
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ---------------------------------------------------------------------------------- workers
def run_variant(
    variant: str, target: Target, keys: list[tuple[str, str]], args: argparse.Namespace
) -> dict[str, Any]:
    """One worker process against ``target``; its JSON result (or the reason there is none)."""
    python = oracle_python(REFERENCE_ENV) if variant == "reference" else sys.executable
    with tempfile.TemporaryDirectory(prefix=f"scale-{variant}-") as tmp:
        home = Path(tmp)
        keys_file, out = home / "keys.json", home / "result.json"
        keys_file.write_text(json.dumps(keys))
        argv = [
            python,
            str(WORKER),
            f"--variant={variant}",
            f"--port={target.port}",
            f"--keys={keys_file}",
            f"--out={out}",
            f"--connect-concurrency={args.connect_concurrency}",
            f"--rounds={args.rounds}",
            f"--timeout={args.timeout}",
            f"--max-failures={args.max_failures}",
        ]
        if args.handshake_timeout:
            argv.append(f"--handshake-timeout={args.handshake_timeout}")
        if target.pid:
            argv.append(f"--target-pid={target.pid}")
        if isinstance(target, RealHub):
            target.mark()
        log(f"{target.name}: {variant}, {len(keys)} sessions")
        try:
            done = subprocess.run(
                argv,
                env=isolated_env(home),
                capture_output=True,
                text=True,
                timeout=args.worker_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            error = f"worker timed out after {args.worker_timeout} s"
            return {"variant": variant, "target": target.name, "error": error}
        if not out.exists():
            tail = "\n".join((done.stderr or "").splitlines()[-15:])
            error = f"worker exited {done.returncode}: {tail}"
            return {"variant": variant, "target": target.name, "error": error}
        result: dict[str, Any] = json.loads(out.read_text())
    result["target"] = target.name
    result["hub_notes"] = target.notes()
    log(f"{target.name}: {variant}: {summary(result)}")
    return result


def summary(result: dict[str, Any]) -> str:
    """One line for the progress log."""
    if "error" in result:
        return str(result["error"])
    return (
        f"{result['connected']}/{result['sessions']} connected at "
        f"{result['connect_rate']:.1f}/s, {result['answers']} answers at "
        f"{result['answers_per_s']:.0f}/s"
    )


def probe_shared_key(hub: RealHub) -> str:
    """Whether hub 5.3 takes several sessions on one access key (sharing one static key)."""

    class SharedStatic:
        """Just the static key, shared by every client of the probe (5.3 pins it per key)."""

        def __init__(self) -> None:
            self.key = secrets.token_bytes(32)

        def noise_private_key(self) -> bytes:
            return self.key

    key, password = new_keys(1, "shared")[0]
    hub.register([(key, password)])
    shared = SharedStatic()
    clients = [
        HiveMessageBusClient(
            key=key, password=password, host=hub.host, port=hub.port, identity=shared
        )
        for _ in range(3)
    ]
    answered = 0
    try:
        for client in clients:  # one after another: the 2nd and 3rd come while the 1st is up
            client.connect(timeout=30)
        for index, client in enumerate(clients):
            text = f"shared {index}"
            reply = client.wait_for_response(
                Message("recognizer_loop:utterance", {"utterances": [text]}), "speak", timeout=20
            )
            answered += (
                isinstance(reply, Message) and reply.data.get("utterance") == f"echo: {text}"
            )
        other = HiveMessageBusClient(key=key, password=password, host=hub.host, port=hub.port)
        try:
            other.connect(timeout=30)
            foreign = "a 4th session with ANOTHER static key was accepted"
        except Exception as exc:
            foreign = f"a 4th session with another static key is refused ({type(exc).__name__})"
        finally:
            other.close()
    except Exception as exc:
        return f"3 sessions on one key with one static key: failed ({type(exc).__name__}: {exc})"
    finally:
        for client in clients:
            client.close()
    return f"3 sessions on one access key with one static key: {answered}/3 answered; {foreign}"


# ---------------------------------------------------------------------------------- table
def _fmt(value: Any, spec: str, scale: float = 1.0) -> str:
    return "-" if value is None else format(value * scale, spec)


def table(results: list[dict[str, Any]]) -> str:
    """The Markdown table of every (target, variant) run."""
    head = (
        "| target | variant | connected | connect rate | connect p50 | client CPU / connect "
        "| hub CPU / connect | RSS / session | threads | idle CPU | answers/s | client CPU / msg "
        "| hub CPU / msg | failures |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        if "error" in r:
            cells = f"| {r.get('target', '-')} | {r['variant']} | {r['error'][:80]} |"
            lines.append(cells + " - |" * 11)
            continue
        failures = sum(r["connect_failures"].values()) + sum(r["round_trip_failures"].values())
        stopped = r.get("stopped")
        where = f" (stopped after {stopped['after_connected']})" if stopped else ""
        lines.append(
            f"| {r['target']} | {r['variant']} | {r['connected']}/{r['sessions']}{where} "
            f"| {r['connect_rate']:.1f}/s | {_fmt(r['connect_median_s'], '.2f')} s "
            f"| {_fmt(r['connect_cpu_per_session_s'], '.0f', 1000)} ms "
            f"| {_fmt(r.get('target_connect_cpu_per_session_s'), '.0f', 1000)} ms "
            f"| {_fmt(r['rss_per_session_kib'], '.0f')} KiB | {r['threads_connected']} "
            f"| {_fmt(r.get('idle_cpu_percent'), '.0f')} % "
            f"| {r['answers_per_s']:.0f} | {_fmt(r['cpu_per_message_ms'], '.2f')} ms "
            f"| {_fmt(r.get('target_cpu_per_message_ms'), '.2f')} ms | {failures} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every (target, variant) pair; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--target", choices=(*TARGETS, "both"), default="both")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=3, help="round trips per session")
    parser.add_argument("--connect-concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=60.0, help="per connect / round trip")
    parser.add_argument(
        "--handshake-timeout",
        type=float,
        default=60.0,
        help="our clients' handshake deadline (0: the library's 10 s); argon2id queues on a "
        "busy hub make 10 s too short at high connect concurrency",
    )
    parser.add_argument("--max-failures", type=int, default=50, help="stop connecting after")
    parser.add_argument("--worker-timeout", type=float, default=3600.0)
    parser.add_argument("--quick", action="store_true", help="20 sessions, 1 round")
    parser.add_argument("--no-probe", action="store_true", help="skip the shared-key probe")
    parser.add_argument("--json", help="write every result here")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.rounds, args.no_probe = min(args.sessions, 20), 1, True
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    targets = TARGETS if args.target == "both" else (args.target,)

    nofile = raise_nofile()
    argon2 = argon2_seconds()
    log(f"RLIMIT_NOFILE {nofile}; argon2id PSK derivation {argon2 * 1000:.0f} ms here")
    keys = {v: new_keys(args.sessions, f"s{i}") for i, v in enumerate(variants)}
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    for target_name in targets:
        if target_name == "hub":
            every_key = [pair for v in variants for pair in keys[v]]
            with real_hub(every_key) as hub:
                if not args.no_probe:
                    notes.append(f"hub 5.3: {probe_shared_key(hub)}")
                    log(notes[-1])
                for variant in variants:
                    results.append(run_variant(variant, hub, keys[variant], args))
                    notes += [f"hub 5.3, {variant}: {n}" for n in results[-1].get("hub_notes", [])]
        else:
            password = secrets.token_hex(16)  # one for all: the hub derives its PSK once
            with scripted_hub(password) as scripted:
                for variant in variants:
                    same = [(key, password) for key, _ in keys[variant]]
                    results.append(run_variant(variant, scripted, same, args))

    print(table(results))
    print()
    print(
        f"Sessions {args.sessions}, {args.rounds} round(s), connect concurrency "
        f"{args.connect_concurrency}; our handshake deadline "
        f"{args.handshake_timeout or 10:g} s, every connect and round trip {args.timeout:g} s; argon2id {argon2 * 1000:.0f} ms per derivation; "
        f"RLIMIT_NOFILE {nofile[0]}; {os.cpu_count()} CPUs, Python {platform.python_version()}."
    )
    for note in notes:
        print(f"- {note}")
    for r in results:
        failures = {**r.get("connect_failures", {}), **r.get("round_trip_failures", {})}
        for kind, count in failures.items():
            print(f"- {r.get('target')}, {r['variant']}: {count} x {kind}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "notes": notes}, indent=1))
    failed = [r for r in results if "error" in r and "unavailable" not in r["error"]]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
