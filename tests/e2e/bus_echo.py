"""OVOS-bus-side helper for the end-to-end hub fixture (see hubs.py).

Runs INSIDE a hub's virtual environment (it needs that env's ovos_bus_client) and is started by
``RunningHub``; it is our own test helper, not part of the library.

    python bus_echo.py --host 127.0.0.1 --port PORT --record FILE --ready FILE

What it does on the hub's OVOS messagebus:
- records every message it sees, one JSON object a line: {"t", "type", "data", "context"};
- answers every ``recognizer_loop:utterance`` and ``ovos.utterance.handle`` with
  ``message.reply("speak", {"utterance": "echo: <first utterance>", "lang": ...})`` (with
  ``--handled`` also ``message.reply("ovos.utterance.handled", {})``). ``reply`` swaps the context's source and
  destination, so the answer's ``destination`` is the peer id the hub stamped into ``source``
  when it injected the satellite's message: that is what makes the hub route it back;
- reads JSON lines on stdin, {"type", "data", "context"}, and emits each on the bus (lets a test
  push a message from the bus side towards a satellite);
- exits when stdin reaches EOF (the fixture closed it, or died), so it never outlives its parent.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from ovos_bus_client import MessageBusClient
from ovos_bus_client.message import Message

UTTERANCE_TYPES = ("recognizer_loop:utterance", "ovos.utterance.handle")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--no-echo", action="store_true", help="record only, never answer")
    ap.add_argument(
        "--handled",
        action="store_true",
        help="also send ovos.utterance.handled after each speak, as ovos-core does",
    )
    ap.add_argument("--connect-timeout", type=float, default=30.0)
    args = ap.parse_args()

    lock = threading.Lock()
    record = open(args.record, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)

    def write(obj: dict) -> None:
        line = json.dumps(obj, ensure_ascii=False, sort_keys=True)
        with lock:
            record.write(line + "\n")
            record.flush()

    bus = MessageBusClient(host=args.host, port=args.port, route="/core", ssl=False)

    def on_any(raw) -> None:
        try:
            msg = json.loads(raw) if isinstance(raw, str | bytes) else raw
            write(
                {
                    "t": time.time(),
                    "type": msg.get("type"),
                    "data": msg.get("data"),
                    "context": msg.get("context"),
                }
            )
        except Exception as e:  # never let a bad frame kill the helper
            write({"t": time.time(), "type": None, "error": repr(e), "raw": str(raw)[:2000]})

    def on_utterance(message: Message) -> None:
        if args.no_echo:
            return
        utterances = message.data.get("utterances") or [message.data.get("utterance", "")]
        text = utterances[0] if utterances else ""
        lang = message.data.get("lang", "en-US")
        bus.emit(message.reply("speak", {"utterance": f"echo: {text}", "lang": lang}))
        if args.handled:
            bus.emit(message.reply("ovos.utterance.handled", {}))

    bus.on("message", on_any)
    for t in UTTERANCE_TYPES:
        bus.on(t, on_utterance)
    bus.run_in_thread()
    if not bus.connected_event.wait(args.connect_timeout):
        print(f"bus_echo: could not connect to ws://{args.host}:{args.port}/core", file=sys.stderr)
        return 1
    with open(args.ready, "w", encoding="utf-8") as f:
        f.write("ready\n")
    print("bus_echo: ready", file=sys.stderr, flush=True)

    for raw_line in sys.stdin:  # EOF -> parent gone or closing: exit
        line = raw_line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            bus.emit(Message(cmd["type"], cmd.get("data") or {}, cmd.get("context") or {}))
        except Exception as e:
            print(f"bus_echo: bad command {line!r}: {e!r}", file=sys.stderr, flush=True)
    try:
        bus.close()
    finally:
        record.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
