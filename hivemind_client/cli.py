"""The ``hivemind-client`` command line."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from hivemind_client import (
    BinaryPayloadType,
    HiveMessage,
    Message,
    __version__,
    decode_binary,
    decode_json,
    encode_binary,
    encode_json,
)

__all__ = ["main"]


def demo() -> int:
    """Encode and decode a few messages, then run the shipped conformance vectors."""
    utterance = HiveMessage(
        "bus",
        Message(
            "recognizer_loop:utterance",
            {"utterances": ["what time is it"]},
            {"source": "demo", "destination": "HiveMind"},
        ),
    )
    wrapped = HiveMessage("propagate", HiveMessage("ping", {"flood_id": "demo-1", "peer": "demo"}))
    audio = HiveMessage(
        "bin",
        bytes(3200),
        bin_type=BinaryPayloadType.RAW_AUDIO,
        metadata={"sample_rate": 16000, "sample_width": 2},
    )
    for message in (utterance, wrapped, audio):
        frame = encode_binary(message, compress=None)
        back = decode_binary(frame)
        print(
            f"{message.msg_type.name:<10} binary frame {len(frame):>5} bytes  {frame[:12].hex()}..."
            f"  round trip {'ok' if back.raw_payload == message.raw_payload else 'MISMATCH'}"
        )
        if message.msg_type.name != "BINARY":
            text = encode_json(message)
            ok = decode_json(text) == message
            print(
                f"{'':<10} JSON text    {len(text):>5} bytes  round trip {'ok' if ok else 'MISMATCH'}"
            )
    vectors = Path(__file__).resolve().parent.parent / "conformance" / "vectors"
    if vectors.is_dir():
        print(f"\nconformance vectors in {vectors}:")
        result = subprocess.run(
            [sys.executable, "-m", "conformance", "run", str(vectors)],
            cwd=vectors.parent.parent,
            check=False,
            capture_output=True,
            text=True,
        )
        print("\n".join(result.stdout.strip().splitlines()[-12:]))
        return result.returncode
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hivemind-client", description="HiveMind satellite client"
    )
    parser.add_argument("--version", action="version", version=f"hivemind-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="show the codec at work and run the conformance vectors")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2  # pragma: no cover - argparse rejects unknown commands first


if __name__ == "__main__":
    raise SystemExit(main())
