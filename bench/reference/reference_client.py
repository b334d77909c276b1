"""Reference side of hubs/bench_client.py: runs under .venvs/ref-0.7, prints timings as JSON.

.venvs/ref-0.7/bin/python bench/reference/reference_client.py PORT KEY PASSWORD CONNECTS ROUNDTRIPS
"""

from __future__ import annotations

import json
import queue
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from tests.e2e import smoke_reference as smoke  # HOME/XDG into a temp dir before the imports below

smoke._client_home()

from hivemind_bus_client.client import HiveMessageBusClient  # noqa: E402
from hivemind_bus_client.message import HiveMessage, HiveMessageType  # noqa: E402
from ovos_bus_client.message import Message  # noqa: E402


def settle(client, speaks) -> None:  # type: ignore[no-untyped-def]
    """Send until one round trip comes back (the hub's bus bridge is up), then drain."""
    for _ in range(30):
        client.emit(
            HiveMessage(
                HiveMessageType.BUS,
                payload=Message(
                    "recognizer_loop:utterance", {"utterances": ["warm up"], "lang": "en-US"}
                ),
            )
        )
        try:
            speaks.get(timeout=1)
            break
        except queue.Empty:
            continue
    time.sleep(0.2)
    while not speaks.empty():
        speaks.get()


def main() -> None:
    port, key, password, connects, roundtrips = (
        sys.argv[1],
        sys.argv[2],
        sys.argv[3],
        int(sys.argv[4]),
        int(sys.argv[5]),
    )
    smoke._prepare_identity()
    connect_times = []
    client = None
    for _ in range(connects):
        if client is not None:
            client.close()
        client = HiveMessageBusClient(
            key=key, password=password, host="127.0.0.1", port=int(port), useragent="bench-ref"
        )
        speaks: queue.Queue[Message] = queue.Queue()
        client.on_mycroft("speak", speaks.put)
        started = time.perf_counter()
        smoke._connect_bound_first(client)  # 0.7.0a2's connect() with its handler race fixed
        connect_times.append(time.perf_counter() - started)
    assert client is not None
    rtts: list[float] = []
    lost = 0
    settle(client, speaks)
    for n in range(roundtrips):
        text = f"{n}"
        started = time.perf_counter()
        client.emit(
            HiveMessage(
                HiveMessageType.BUS,
                payload=Message(
                    "recognizer_loop:utterance", {"utterances": [text], "lang": "en-US"}
                ),
            )
        )
        try:
            speaks.get(timeout=3)
        except queue.Empty:
            # hivemind-core 4.0.0's bus bridge dies now and then (it writes to tornado from
            # another thread) and comes back 5 s later: count the loss, wait for it, go on.
            lost += 1
            settle(client, speaks)
            continue
        rtts.append(time.perf_counter() - started)
    client.close()
    print(json.dumps({"connect": connect_times, "rtt": rtts, "lost": [lost]}))


if __name__ == "__main__":
    main()
