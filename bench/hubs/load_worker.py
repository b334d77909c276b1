"""One client process for the suite's load rows: flood (throughput + CPU) or memory.

Runs under our venv (``--impl ours``) or a reference venv (``--impl ref07`` under
.venvs/ref-0.7, ``--impl ref12`` under .venvs/ref-1.2), so each side runs alone in its own
process doing exactly the same steps:

    PYTHON bench/hubs/load_worker.py --impl IMPL --port P --key K --home DIR flood --kind bus ...
    PYTHON bench/hubs/load_worker.py --impl IMPL --port P --key K --home DIR memory --clients 100

``flood`` connects one client, makes sure a round trip gets through, then sends ``--count`` messages as fast as ``emit`` returns
(``bus``: a BUS ``bench.flood`` message of about ``--size`` bytes of JSON, built per message;
``binary``: a RAW_AUDIO BINARY message of ``--size`` bytes), measuring process CPU time
(``time.process_time``: every thread of the process) and wall time around that loop only.
``memory`` connects one warm-up client, reads VmRSS, connects ``--clients`` more, reads VmRSS
again. Both print ``RESULT {json}`` and then wait for a line on stdin before they close (the
suite counts what arrived at the hub first).

``--home`` holds the client's identity (the references keep theirs in $HOME; ours in
DIR/_identity.json on a v3 hub), the same for every worker of one side, so a v3 hub sees one
static key per access key. Reference logging is silenced (level ERROR), as in the e2e smoke test.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from bench.common.sizes import BINARY_METADATA, FLOOD_TYPE, blob, flood_data


def rss_bytes() -> int:
    """Resident set size of this process (VmRSS in /proc/self/status)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _set_home(home: str) -> None:
    """Point HOME and the XDG dirs at ``home`` before a reference client is imported."""
    os.environ["HOME"] = home
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        os.environ[var] = str(Path(home) / sub)


class Side:
    """How one implementation connects and sends; subclasses fill in the three steps."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def connect(self) -> Any:
        raise NotImplementedError

    def bus_sender(self, client: Any, run: str, size: int) -> Callable[[int], None]:
        raise NotImplementedError

    def utterance(self, client: Any, text: str) -> None:
        raise NotImplementedError

    def settle(self, client: Any, tries: int = 30) -> None:
        """Round trips until one comes back: the hub's bus bridge is up (4.0 drops it now and
        then for 5 s and loses what arrives meanwhile), then let the answers drain."""
        speaks: queue.Queue[Any] = queue.Queue()
        client.on_mycroft("speak", speaks.put)
        for _ in range(tries):
            self.utterance(client, "settle")
            try:
                speaks.get(timeout=1)
                break
            except queue.Empty:
                continue
        else:
            raise RuntimeError("the hub never answered: its bus bridge is down")
        time.sleep(0.3)

    def binary_sender(self, client: Any, size: int) -> Callable[[int], None]:
        raise NotImplementedError

    def close(self, client: Any) -> None:
        client.close()


class Ours(Side):
    """hivemind_client.HiveMessageBusClient."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        from hivemind_client import BinaryPayloadType, HiveMessage, Message
        from hivemind_client.sync.client import HiveMessageBusClient

        self.client_class, self.message, self.hive = HiveMessageBusClient, Message, HiveMessage
        self.audio = BinaryPayloadType.RAW_AUDIO
        self.identity = None
        if args.hub == "5.3":  # one identity (static key, pins, PSK cache) for every worker
            from hivemind_client.identity import NodeIdentity

            self.identity = NodeIdentity(Path(args.home) / "_identity.json")
            if not self.identity.access_key:
                self.identity.access_key, self.identity.password = args.key, args.password
                self.identity.default_master, self.identity.default_port = "127.0.0.1", args.port
                self.identity.ensure_keys()
                self.identity.save()

    def connect(self) -> Any:
        if self.identity is not None:
            client = self.client_class(identity=self.identity, useragent="bench-ours")
        else:
            client = self.client_class(
                key=self.args.key,
                password=self.args.password,
                host="127.0.0.1",
                port=self.args.port,
                useragent="bench-ours",
            )
        client.connect()
        return client

    def bus_sender(self, client: Any, run: str, size: int) -> Callable[[int], None]:
        message = self.message

        def send(index: int) -> None:
            client.emit(message(FLOOD_TYPE, flood_data(run, index, size)))

        return send

    def utterance(self, client: Any, text: str) -> None:
        client.emit(self.message("recognizer_loop:utterance", {"utterances": [text]}))

    def binary_sender(self, client: Any, size: int) -> Callable[[int], None]:
        data, hive, audio = blob(size), self.hive, self.audio

        def send(index: int) -> None:
            client.emit(hive("bin", data, bin_type=audio, metadata=BINARY_METADATA))

        return send


class Reference(Side):
    """hivemind_bus_client 0.7.0a2 (``ref07``) or 1.2.x (``ref12``)."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        _set_home(args.home)
        import logging

        from hivemind_bus_client.client import HiveMessageBusClient
        from hivemind_bus_client.message import (
            HiveMessage,
            HiveMessageType,
            HiveMindBinaryPayloadType,
        )
        from ovos_bus_client.message import Message
        from ovos_utils.log import LOG

        LOG.set_level("ERROR")
        logging.disable(logging.WARNING)
        self.client_class, self.message, self.hive = HiveMessageBusClient, Message, HiveMessage
        self.types, self.audio = HiveMessageType, HiveMindBinaryPayloadType.RAW_AUDIO
        self.old = args.impl == "ref07"
        if self.old:
            from tests.e2e import smoke_reference

            self.smoke = smoke_reference
            smoke_reference._prepare_identity()

    def cache_cpu_probe(self) -> None:
        """0.7.0a2 asks py-cpuinfo for the AES flag on every handshake (~1.1 s): ask once."""
        from hivemind_bus_client import encryption

        encryption.cpu_supports_AES = functools.cache(encryption.cpu_supports_AES)

    def connect(self) -> Any:
        client = self.client_class(
            key=self.args.key,
            password=self.args.password,
            host="127.0.0.1",
            port=self.args.port,
            useragent="bench-ref",
        )
        if self.old:
            self.smoke._connect_bound_first(client)  # 0.7.0a2's connect(), its race fixed
        else:
            client.connect()
            time.sleep(0.2)  # 1.2 reports the handshake before the hub has read its HELLO
        return client

    def bus_sender(self, client: Any, run: str, size: int) -> Callable[[int], None]:
        message, hive, bus = self.message, self.hive, self.types.BUS

        def send(index: int) -> None:
            client.emit(hive(bus, payload=message(FLOOD_TYPE, flood_data(run, index, size))))

        return send

    def utterance(self, client: Any, text: str) -> None:
        message = self.message("recognizer_loop:utterance", {"utterances": [text]})
        client.emit(self.hive(self.types.BUS, payload=message))

    def binary_sender(self, client: Any, size: int) -> Callable[[int], None]:
        data, hive, binary, audio = blob(size), self.hive, self.types.BINARY, self.audio

        def send(index: int) -> None:
            client.emit(
                hive(binary, payload=data, metadata=dict(BINARY_METADATA), bin_type=audio),
                binary_type=audio,
            )

        return send


def flood(side: Side, args: argparse.Namespace) -> tuple[dict[str, Any], list[Any]]:
    """Connect, settle, send ``count`` messages; CPU and wall time around the send loop."""
    client = side.connect()
    side.settle(client)
    if args.kind == "bus":
        send = side.bus_sender(client, args.run, args.size)
    else:
        send = side.binary_sender(client, args.size)
    gc.collect()
    print("READY", flush=True)  # connected and settled: the parent starts its hub CPU clock
    started_cpu, started_wall = time.process_time(), time.time()
    for index in range(args.count):
        send(index)
    cpu, sent = time.process_time() - started_cpu, time.time()
    return {"t0": started_wall, "t_sent": sent, "cpu": cpu, "count": args.count}, [client]


def memory(side: Side, args: argparse.Namespace) -> tuple[dict[str, Any], list[Any]]:
    """RSS growth per connected client, after one warm-up client."""
    if isinstance(side, Reference) and side.old:
        side.cache_cpu_probe()
    clients = [side.connect()]
    time.sleep(0.5)
    gc.collect()
    base, threads = rss_bytes(), threading.active_count()
    started = time.perf_counter()
    for _ in range(args.clients):
        clients.append(side.connect())
    elapsed = time.perf_counter() - started
    time.sleep(1.0)
    gc.collect()
    grown = rss_bytes() - base
    return {
        "clients": args.clients,
        "rss_base": base,
        "rss_per_client": grown / args.clients,
        "threads_per_client": (threading.active_count() - threads) / args.clients,
        "connect_mean": elapsed / args.clients,
    }, clients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=("ours", "ref07", "ref12"), required=True)
    parser.add_argument("--hub", choices=("4.0", "5.3"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--home", required=True)
    commands = parser.add_subparsers(dest="command", required=True)
    flood_args = commands.add_parser("flood")
    flood_args.add_argument("--kind", choices=("bus", "binary"), required=True)
    flood_args.add_argument("--count", type=int, required=True)
    flood_args.add_argument("--size", type=int, required=True)
    flood_args.add_argument("--run", default="run")
    memory_args = commands.add_parser("memory")
    memory_args.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()

    side: Side = Ours(args) if args.impl == "ours" else Reference(args)
    result, clients = (flood if args.command == "flood" else memory)(side, args)
    print("RESULT " + json.dumps(result), flush=True)
    sys.stdin.readline()  # the suite has counted what arrived
    for client in clients:
        with contextlib.suppress(Exception):  # best effort: the process exits anyway
            side.close(client)
    sys.stdout.flush()
    os._exit(0)  # reference clients may leave non-daemon threads behind


if __name__ == "__main__":
    main()
