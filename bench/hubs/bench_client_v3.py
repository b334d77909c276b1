"""HiveMessageBusClient against a real hivemind-core 5.3 hub (protocol v3): connect and round trip.

    .venv/bin/python bench/hubs/bench_client_v3.py [--roundtrips 200] [--connects 5] [--no-reference]

Starts hub 5.3 on loopback (tests/e2e/hubs.py) and prints one table:

- connect time (``connect()`` wall clock: TCP, websocket upgrade, HELLO, offer, Noise
  handshake, our HELLO) for a first contact (XXpsk2, argon2id PSK derived), a known hub with
  the PSK cache cleared (KKpsk0, derived again) and a known hub with the PSK cached (KKpsk0);
- BUS round trip: ``recognizer_loop:utterance`` out, the echo helper's ``speak`` back, median
  (and p90) over N messages, with binary frames off and on.

With .venvs/ref-1.2 present, the reference client hivemind_bus_client 1.2.x runs the same
steps in a subprocess against the same hub (its identity in a temporary HOME).
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from bench.common.paths import VENVS
from hivemind_client import Message
from hivemind_client.identity import NodeIdentity
from hivemind_client.security.hivemind_noise import derive_psk
from hivemind_client.sync.client import HiveMessageBusClient
from tests.e2e.hubs import DEFAULT_PASSWORD, RunningHub

__all__ = ["main"]

REFERENCE = r"""
import json, os, queue, statistics, sys, time, warnings, logging
port, key, password, roundtrips, connects = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
from hivemind_bus_client.client import HiveMessageBusClient
from hivemind_bus_client.message import HiveMessage, HiveMessageType
from ovos_bus_client.message import Message

def client():
    c = HiveMessageBusClient(key=key, password=password, host="127.0.0.1", port=int(port),
                             useragent="bench-ref")
    return c

out = {"connect": []}
for n in range(connects):
    c = client()
    t = time.perf_counter()
    c.connect()
    out["connect"].append(time.perf_counter() - t)
    if n < connects - 1:
        c.close()
speaks = queue.Queue()
c.on_mycroft("speak", speaks.put)
time.sleep(0.2)  # the handshake event fires before the hub has read our HELLO
rtts = []
for i in range(roundtrips):
    text = f"ref {i}"
    t = time.perf_counter()
    c.emit(HiveMessage(HiveMessageType.BUS, payload=Message(
        "recognizer_loop:utterance", {"utterances": [text], "lang": "en-US"})))
    while speaks.get(timeout=10).data.get("utterance") != f"echo: {text}":
        pass
    rtts.append(time.perf_counter() - t)
c.close()
out["rtt"] = rtts
print("RESULT " + json.dumps(out))
"""


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f}" if values else "       -"


def _p90_ms(values: list[float]) -> str:
    if len(values) < 10:
        return "       -"
    return f"{statistics.quantiles(values, n=10)[-1] * 1000:8.1f}"


def _round_trips(client: HiveMessageBusClient, count: int) -> list[float]:
    speaks: queue.Queue[Message] = queue.Queue()
    client.on_mycroft("speak", speaks.put)
    times = []
    for index in range(count):
        text = f"bench {index}"
        started = time.perf_counter()
        client.emit(Message("recognizer_loop:utterance", {"utterances": [text], "lang": "en-US"}))
        while speaks.get(timeout=10).data.get("utterance") != f"echo: {text}":
            pass
        times.append(time.perf_counter() - started)
    return times


def _ours(hub: RunningHub, connects: int, roundtrips: int, tmp: Path) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"xx-derived": [], "kk-derived": [], "kk-cached": []}
    for n in range(connects):  # first contact: a new identity and access key every time
        identity = _new_identity(hub, tmp / f"first-{n}")
        with HiveMessageBusClient(identity=identity) as client:
            started = time.perf_counter()
            info = client.connect()
            results["xx-derived"].append(time.perf_counter() - started)
            assert info.handshake == "noise-XXpsk2", info
    identity = _new_identity(hub, tmp / "known")
    with HiveMessageBusClient(identity=identity) as client:
        client.connect()  # pins both ways
    for label, clear in (("kk-derived", True), ("kk-cached", False)):
        for _ in range(connects):
            if clear:
                identity.clear_psks()
            with HiveMessageBusClient(identity=identity) as client:
                started = time.perf_counter()
                info = client.connect()
                results[label].append(time.perf_counter() - started)
                assert info.handshake == "noise-KKpsk0", info
    with HiveMessageBusClient(identity=identity) as client:
        client.connect()
        time.sleep(0.2)  # let the hub read our HELLO before timing
        results["rtt"] = _round_trips(client, roundtrips)
    return results


def _new_identity(hub: RunningHub, directory: Path) -> NodeIdentity:
    identity = NodeIdentity(directory / "_identity.json")
    identity.access_key = "b" + uuid.uuid4().hex[:15]
    identity.password = DEFAULT_PASSWORD
    identity.default_master, identity.default_port = hub.host, hub.port
    identity.ensure_keys()  # the RSA key is not part of what we time
    identity.save()
    hub.add_client(f"bench-{identity.access_key}", identity.access_key, DEFAULT_PASSWORD)
    return identity


def _reference(hub: RunningHub, connects: int, roundtrips: int) -> dict[str, list[float]] | None:
    python = VENVS / "ref-1.2" / "bin" / "python"
    if not python.exists():
        return None
    key = "r" + uuid.uuid4().hex[:15]
    hub.add_client(f"bench-{key}", key, DEFAULT_PASSWORD)
    with tempfile.TemporaryDirectory(prefix="bench-ref-") as home:
        env = {"HOME": home, "XDG_CONFIG_HOME": f"{home}/.config", "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [
                *(str(python), "-c", REFERENCE, str(hub.port), key, DEFAULT_PASSWORD),
                *(str(roundtrips), str(connects + 1)),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            raw = json.loads(line[len("RESULT ") :])
            return {
                "xx-derived": raw["connect"][:1],
                "kk-cached": raw["connect"][1:],
                "rtt": raw["rtt"],
            }
    print(f"reference run failed ({done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--roundtrips", type=int, default=200)
    parser.add_argument("--connects", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    derive_psk(DEFAULT_PASSWORD, "node")
    argon2 = time.perf_counter() - started
    rows: list[tuple[str, str, dict[str, list[float]] | None]] = []
    with tempfile.TemporaryDirectory(prefix="bench-v3-") as tmp:
        for binarize in (False, True):
            with RunningHub("5.3", binarize=binarize, log_level="INFO") as hub:
                ours = _ours(hub, args.connects, args.roundtrips, Path(tmp) / str(binarize))
                rows.append(("hivemind-client", f"binarize={'on' if binarize else 'off'}", ours))
                if not args.no_reference:
                    reference = _reference(hub, args.connects, args.roundtrips)
                    rows.append(
                        ("reference 1.2.x", f"binarize={'on' if binarize else 'off'}", reference)
                    )

    print(f"\nargon2id PSK derivation alone: {argon2 * 1000:.0f} ms")
    print(
        f"hub 5.3 on loopback; medians in ms; connects x{args.connects}, "
        f"round trips x{args.roundtrips}\n"
    )
    header = (
        f"{'client':<16} {'hub':<13} {'XX derived':>10} {'KK derived':>10} {'KK cached':>10}"
        f" {'RTT med':>8} {'RTT p90':>8}"
    )
    print(header)
    print("-" * len(header))
    for client, hub_label, result in rows:
        if result is None:
            print(f"{client:<16} {hub_label:<13} {'(not run)':>10}")
            continue
        print(
            f"{client:<16} {hub_label:<13} {_median_ms(result.get('xx-derived', [])):>10}"
            f" {_median_ms(result.get('kk-derived', [])):>10}"
            f" {_median_ms(result.get('kk-cached', [])):>10}"
            f" {_median_ms(result.get('rtt', [])):>8} {_p90_ms(result.get('rtt', [])):>8}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
