"""Benchmark: protocol v1 frame encryption, hivemind-client vs the reference client 0.7.0a2.

Run from the project root:  .venv/bin/python bench/micro/bench_crypto.py [--repeat N] [--quick]

Measures, for both ciphers, a JSON seal+open round trip of a typical BUS message (about 250 bytes
of JSON) in each of the seven encodings, and a binary seal+open round trip of 1 MiB. Our side runs
in this interpreter; the reference's ``encrypt_as_json``/``decrypt_from_json`` and
``encrypt_bin``/``decrypt_bin`` run in a subprocess of the oracle interpreter
(``.venvs/ref-0.7/bin/python``) with the same timing loop: ``timeit`` with a fixed number of loops
per repeat, best of N repeats, the two sides taking turns repeat by repeat so that load from
other processes hits both alike. Goals: JSON at least 2x faster than the reference in every
encoding; 1 MiB binary no slower than the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from bench.common.paths import VENVS
from bench.common.worker import LineWorker
from hivemind_client.security.aead import (
    CIPHERS,
    open_binary,
    open_json,
    seal_binary,
    seal_json,
)
from hivemind_client.security.encodings import TextEncoding

REFERENCE_PYTHON = VENVS / "ref-0.7" / "bin" / "python"

# A BUS message as a client sends it (the shape of HiveMessage.serialize()): 252 bytes.
MESSAGE = json.dumps(
    {
        "msg_type": "bus",
        "payload": {
            "type": "recognizer_loop:utterance",
            "data": {"utterances": ["what time is it"], "lang": "en-US"},
            "context": {"source": "satellite", "destination": "HiveMind", "session": {}},
        },
        "metadata": {},
        "route": [],
        "node": None,
    }
)
KEY = bytes(range(32))  # AES-256 / ChaCha20 key, as a password handshake produces
BLOB_SIZE = 1 << 20
ENCODINGS = [encoding.value for encoding in TextEncoding]  # wire order of the enum

# Runs under the reference interpreter: one case per input line, one repeat of the same timing
# loop, the best time per round trip on an output line.
REFERENCE_WORKER = textwrap.dedent(
    """
    import json, os, sys, timeit
    from hivemind_bus_client.encryption import (
        decrypt_bin, decrypt_from_json, encrypt_as_json, encrypt_bin)
    blobs = {}
    for line in sys.stdin:
        case = json.loads(line)
        key = bytes.fromhex(case["key"])
        cipher, encoding = case["cipher"], case["encoding"]
        if encoding is None:
            blob = blobs.setdefault(case["size"], os.urandom(case["size"]))
            def run():
                decrypt_bin(key, encrypt_bin(key, blob, cipher), cipher)
        else:
            message = case["message"]
            def run():
                decrypt_from_json(key, encrypt_as_json(key, message, cipher, encoding),
                                  cipher, encoding)
        run()
        print(json.dumps(timeit.timeit(run, number=case["number"]) / case["number"]), flush=True)
    """
)


class Reference(LineWorker):
    """The reference's timing loop in a long-lived subprocess of the oracle interpreter."""

    def __init__(self) -> None:
        if not REFERENCE_PYTHON.exists():
            raise SystemExit(f"reference interpreter missing: {REFERENCE_PYTHON}")
        super().__init__([str(REFERENCE_PYTHON), "-c", REFERENCE_WORKER])

    def time(self, case: dict[str, object]) -> float:
        """Seconds per round trip of one repeat of ``case``."""
        return float(self.call(case))


def our_runner(cipher: str, encoding: str | None) -> Callable[[], None]:
    """One seal+open round trip with our library."""
    if encoding is None:
        blob = os.urandom(BLOB_SIZE)

        def run_binary() -> None:
            if open_binary(seal_binary(blob, KEY, cipher=cipher), KEY, cipher=cipher) != blob:
                raise AssertionError("binary round trip failed")

        return run_binary

    def run_json() -> None:
        envelope = seal_json(MESSAGE, KEY, cipher=cipher, encoding=encoding)
        if open_json(envelope, KEY, cipher=cipher, encoding=encoding) != MESSAGE:
            raise AssertionError("JSON round trip failed")

    return run_json


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="repeats per case (best is kept)")
    parser.add_argument("--quick", action="store_true", help="fewer loops per repeat")
    args = parser.parse_args()
    json_loops, blob_loops = (200, 3) if args.quick else (1000, 10)

    cases: list[dict[str, object]] = []
    for cipher in CIPHERS:
        for encoding in ENCODINGS:
            cases.append({"cipher": cipher.value, "encoding": encoding, "number": json_loops})
        cases.append({"cipher": cipher.value, "encoding": None, "number": blob_loops})
    for case in cases:
        case.update(key=KEY.hex(), message=MESSAGE, size=BLOB_SIZE)

    # The two sides take turns, one repeat each, so that load on the machine hits both alike.
    reference = Reference()
    rows = []
    failures = 0
    try:
        for case in cases:
            cipher, encoding = str(case["cipher"]), case["encoding"]
            run = our_runner(cipher, encoding if isinstance(encoding, str) else None)
            run()
            number = int(str(case["number"]))
            ours = theirs = float("inf")
            for _ in range(args.repeat):
                theirs = min(theirs, reference.time(case))
                ours = min(ours, timeit.timeit(run, number=number) / number)
            ratio = theirs / ours
            goal = 2.0 if encoding else 1.0
            met = ratio >= goal
            failures += not met
            what = f"JSON {len(MESSAGE)} B" if encoding else "binary 1 MiB"
            unit, scale = ("us", 1e6) if encoding else ("ms", 1e3)
            rows.append(
                (
                    what,
                    cipher,
                    str(encoding or "-"),
                    f"{ours * scale:.1f} {unit}",
                    f"{theirs * scale:.1f} {unit}",
                    f"{ratio:.2f}x",
                    f">={goal:.0f}x",
                    "yes" if met else "NO",
                )
            )
    finally:
        reference.close()
    header = (
        "round trip",
        "cipher",
        "encoding",
        "ours",
        "reference 0.7.0a2",
        "speedup",
        "goal",
        "met",
    )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * width for width in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    verdict = f"{failures} goal(s) missed" if failures else "every goal met"
    print(f"\nseal+open per round trip, best of {args.repeat} alternating repeats; {verdict}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
