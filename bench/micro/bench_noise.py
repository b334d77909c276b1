"""Protocol v3 (Noise) benchmark: handshake, PSK derivation, transport, in one table.

    .venv/bin/python bench/micro/bench_noise.py

Rows: a full XXpsk2 handshake (client and hub side in one process, PSK precomputed, transport
keys split), the argon2id PSK derivation alone, and encrypt+decrypt through NoiseTransport of a
250-byte JSON message and of 1 MiB (17 chunks). When the oracle venv .venvs/noiseprotocol
exists, the same handshake and transport steps run there too (noiseprotocol 0.3.1, the engine
hivemind-core 5.x uses) for comparison; that column leaves out our framing layer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: bench.* imports

from bench.common.paths import ROOT, VENVS
from bench.common.timing import best_time
from hivemind_client.security.hivemind_noise import NoiseTransport, derive_psk
from hivemind_client.security.noise import HandshakeState

__all__ = ["main"]

PSK = bytes(range(32))
CLIENT_STATIC, HUB_STATIC = b"\x11" * 32, b"\x33" * 32
JSON_250 = json.dumps(
    {
        "msg_type": "bus",
        "payload": {"type": "speak", "data": {"utterance": "x" * 176}, "context": {}},
    }
)
MEBIBYTE = bytes(range(256)) * 4096
SUITES = ("25519_ChaChaPoly_SHA256", "25519_AESGCM_SHA256")

REFERENCE = r"""
import json, sys, warnings
sys.path.insert(0, sys.argv[1])  # the repo root
from bench.common.timing import best_time
from noise.connection import Keypair, NoiseConnection
warnings.filterwarnings("ignore")
PSK = bytes(range(32))
def pair(name):
    sides = []
    for initiator, static in ((True, b"\x11" * 32), (False, b"\x33" * 32)):
        c = NoiseConnection.from_name(name.encode())
        c.set_keypair_from_private_bytes(Keypair.STATIC, static)
        c.set_psks(PSK)
        c.set_prologue(b"bench")
        c.set_as_initiator() if initiator else c.set_as_responder()
        c.start_handshake()
        sides.append(c)
    return sides
def handshake(name):
    i, r = pair(name)
    r.read_message(i.write_message(b"{}"))
    i.read_message(r.write_message(b"{}"))
    r.read_message(i.write_message(b""))
    return i, r
out = {}
for suite in ("25519_ChaChaPoly_SHA256", "25519_AESGCM_SHA256"):
    name = "Noise_XXpsk2_" + suite
    out["handshake " + suite] = best_time(lambda: handshake(name))
    i, r = handshake(name)
    small = b"\x00" + b"x" * 250
    out["small " + suite] = best_time(lambda: r.decrypt(i.encrypt(small)))
    chunks = [b"\x04" + bytes(65000)] * 17
    out["mib " + suite] = best_time(lambda: [r.decrypt(i.encrypt(c)) for c in chunks])
print(json.dumps(out))
"""


def handshake(suite: str) -> tuple[HandshakeState, HandshakeState]:
    """One full XXpsk2 handshake with fresh ephemeral keys."""
    name = f"Noise_XXpsk2_{suite}"
    client = HandshakeState(
        name, initiator=True, prologue=b"bench", static_private=CLIENT_STATIC, psks=[PSK]
    )
    hub = HandshakeState(
        name, initiator=False, prologue=b"bench", static_private=HUB_STATIC, psks=[PSK]
    )
    hub.read_message(client.write_message(b"{}"))
    client.read_message(hub.write_message(b"{}"))
    hub.read_message(client.write_message(b""))
    return client, hub


def transports(suite: str) -> tuple[NoiseTransport, NoiseTransport]:
    """A client and hub transport pair after a handshake."""
    client, hub = handshake(suite)
    return NoiseTransport(*client.split()), NoiseTransport(*hub.split())


def round_trip(sender: NoiseTransport, receiver: NoiseTransport, payload: str | bytes) -> None:
    """Frame, encrypt, decrypt and reassemble one message."""
    messages = (
        sender.encrypt_json(payload) if isinstance(payload, str) else sender.encrypt_binary(payload)
    )
    for message in messages:
        receiver.decrypt(message)


def reference() -> dict[str, float]:
    """noiseprotocol timings from its own venv, or {} when it is not built."""
    python = VENVS / "noiseprotocol" / "bin" / "python"
    if not python.exists():
        return {}
    out = subprocess.run(
        [str(python), "-c", REFERENCE, str(ROOT)], check=True, capture_output=True, text=True
    )
    return {key: float(value) for key, value in json.loads(out.stdout).items()}


def suite_rows(suite: str, ref: dict[str, float]) -> list[tuple[str, float, float | None]]:
    """Handshake and transport rows for one cipher suite."""
    client, hub = transports(suite)
    return [
        (
            f"XXpsk2 handshake, both sides ({suite})",
            best_time(lambda: handshake(suite)),
            ref.get(f"handshake {suite}"),
        ),
        (
            f"250-byte JSON encrypt+decrypt ({suite})",
            best_time(lambda: round_trip(client, hub, JSON_250)),
            ref.get(f"small {suite}"),
        ),
        (
            f"1 MiB binary, 17 chunks, encrypt+decrypt ({suite})",
            best_time(lambda: round_trip(client, hub, MEBIBYTE), min_seconds=0.5),
            ref.get(f"mib {suite}"),
        ),
    ]


def main() -> None:
    """Print the table."""
    ref = reference()
    psk = best_time(lambda: derive_psk("correct horse battery", "node"), min_seconds=1, repeats=3)
    rows: list[tuple[str, float, float | None]] = [
        ("argon2id PSK derivation (t=3, 64 MiB, p=1)", psk, None)
    ]
    for suite in SUITES:
        rows += suite_rows(suite, ref)
    width = max(len(label) for label, _, _ in rows)
    print(f"{'operation':<{width}}  {'ours':>12}  {'noiseprotocol':>14}")
    for label, ours, theirs in rows:
        other = f"{theirs * 1e3:11.3f} ms" if theirs is not None else f"{'-':>14}"
        print(f"{label:<{width}}  {ours * 1e3:9.3f} ms  {other}")
    mib = next(t for label, t, _ in rows if label.startswith("1 MiB") and SUITES[0] in label)
    print(f"\nChaChaPoly transport: {1 / mib:.0f} MiB/s (encrypt+decrypt, one core)")


if __name__ == "__main__":
    main()
