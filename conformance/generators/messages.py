# oracle: project
"""Generate the `message-json` vectors from schema/hive_message.schema.json.

Runs under the project's interpreter (it needs `jsonschema`, never hivemind_client):

    .venv/bin/python conformance/generators/messages.py OUTDIR

Every vector is a JSON text frame. Valid ones are realistic envelopes of every message type;
invalid ones break one rule each (payload shape per type, unknown msg_type, non-object payload,
bad route, text that is not JSON). Each verdict is checked with the `jsonschema` package against
the schema itself, so the expectations come from the schema, not from any implementation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from _vectorfile import write_vector_file

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schema"

BUS = {
    "type": "speak",
    "data": {"utterance": "olá, mundo"},
    "context": {"source": "skills", "destination": ["HiveMind"]},
}
PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----"


def envelope(msg_type: str, payload: Any = None, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"msg_type": msg_type}
    if payload is not None:
        out["payload"] = payload
    out.update(
        {
            "metadata": {},
            "route": [],
            "node": None,
            "target_site_id": None,
            "target_pubkey": None,
            "source_peer": None,
        }
    )
    out.update(fields)
    return out


def valid_vectors() -> list[tuple[str, Any]]:
    ping = envelope(
        "ping",
        {
            "flood_id": "f1",
            "peer": "sat::1",
            "site_id": "kitchen",
            "timestamp": 1.5,
            "public_key": PEM,
        },
    )
    return [
        ("bus", envelope("bus", BUS)),
        ("bus-minimal", {"msg_type": "bus", "payload": {"type": "x"}}),
        ("shared-bus", envelope("shared_bus", BUS)),
        ("broadcast-bus", envelope("broadcast", envelope("bus", BUS), target_site_id="kitchen")),
        ("propagate-ping", envelope("propagate", ping)),
        ("escalate-bus", envelope("escalate", envelope("bus", BUS))),
        (
            "query-bus",
            envelope(
                "query", envelope("bus", BUS), metadata={"query_id": "q1", "originator_peer": "sat"}
            ),
        ),
        (
            "cascade-bus",
            envelope(
                "cascade", envelope("bus", BUS), metadata={"query_id": "q2", "is_response": False}
            ),
        ),
        (
            "nested-3-levels",
            envelope(
                "broadcast", envelope("propagate", envelope("escalate", envelope("bus", BUS)))
            ),
        ),
        ("ping", ping),
        (
            "hello-from-hub",
            envelope(
                "hello", {"pubkey": PEM, "peer": "ua::1::sat::s", "node_id": "master:0.0.0.0"}
            ),
        ),
        (
            "hello-from-client",
            envelope(
                "hello", {"pubkey": PEM, "session": {"session_id": "default"}, "site_id": "kitchen"}
            ),
        ),
        (
            "handshake-offer-v1",
            envelope(
                "shake",
                {
                    "handshake": False,
                    "min_protocol_version": 0,
                    "max_protocol_version": 1,
                    "binarize": False,
                    "preshared_key": False,
                    "password": True,
                    "crypto_required": True,
                    "encodings": ["JSON-B64", "JSON-HEX"],
                    "ciphers": ["CHACHA20-POLY1305", "AES-GCM"],
                },
            ),
        ),
        (
            "handshake-offer-v3",
            envelope(
                "shake",
                {
                    "max_protocol_version": 3,
                    "binarize": True,
                    "encodings": ["JSON-B64"],
                    "ciphers": ["AES-GCM"],
                    "noise": {"patterns": ["XXpsk2"], "suites": ["25519_ChaChaPoly_SHA256"]},
                },
            ),
        ),
        (
            "handshake-request",
            envelope(
                "shake",
                {
                    "binarize": True,
                    "encodings": ["JSON-B64"],
                    "ciphers": ["AES-GCM"],
                    "envelope": "deadbeefcafebabe47f0753a5a76dd104638641f6f108805",
                },
            ),
        ),
        (
            "handshake-response",
            envelope("shake", {"envelope": "00" * 24, "encoding": "JSON-B64", "cipher": "AES-GCM"}),
        ),
        ("handshake-noise", envelope("shake", {"noise": {"msg": "00ff"}})),
        (
            "intercom-hybrid",
            envelope(
                "intercom",
                {
                    "encrypted_key": "a2V5",
                    "ciphertext": "Y3Q=",
                    "tag": "dGFn",
                    "nonce": "bm9uY2U=",
                    "signature": "c2ln",
                },
                target_pubkey=PEM,
            ),
        ),
        ("intercom-legacy", envelope("intercom", {"ciphertext": "Y3Q=", "signature": "c2ln"})),
        ("rendezvous-collect", envelope("rendezvous", {"cmd": "collect"})),
        (
            "rendezvous-reply",
            envelope("rendezvous", {"status": "ok", "messages": [], "mailbox_node": "n"}),
        ),
        ("3rdparty", envelope("3rdparty", {"anything": [1, {"goes": True}]})),
        (
            "route-hops",
            envelope("bus", BUS, route=[{"source": "a", "targets": ["b", "c"]}, {"source": "b"}]),
        ),
        (
            "bin-without-payload",
            {"msg_type": "bin", "metadata": {"sample_rate": 16000, "sample_width": 2}},
        ),
        ("no-payload", {"msg_type": "ping"}),
    ]


def invalid_vectors() -> list[tuple[str, Any, str]]:
    return [
        ("unknown-msg-type", envelope("telepathy", {}), "unknown-message-type"),
        (
            "unknown-nested-msg-type",
            envelope("propagate", {"msg_type": "telepathy"}),
            "unknown-message-type",
        ),
        ("missing-msg-type", {"payload": BUS}, "invalid-payload"),
        ("msg-type-not-string", {"msg_type": 1, "payload": {}}, "invalid-payload"),
        ("payload-string", envelope("bus", "speak"), "invalid-payload"),
        ("payload-list", envelope("bus", [BUS]), "invalid-payload"),
        ("payload-number", envelope("ping", 3), "invalid-payload"),
        ("payload-null-3rdparty", {"msg_type": "3rdparty", "payload": None}, "invalid-payload"),
        ("bus-without-type", envelope("bus", {"data": {}}), "invalid-payload"),
        ("bus-type-not-string", envelope("bus", {"type": 5}), "invalid-payload"),
        ("bus-data-not-object", envelope("bus", {"type": "x", "data": []}), "invalid-payload"),
        (
            "shared-bus-context-string",
            envelope("shared_bus", {"type": "x", "context": "c"}),
            "invalid-payload",
        ),
        ("broadcast-bare-ovos-message", envelope("broadcast", BUS), "invalid-payload"),
        (
            "propagate-invalid-inner",
            envelope("propagate", envelope("bus", {"data": {}})),
            "invalid-payload",
        ),
        ("ping-without-flood-id", envelope("ping", {"peer": "p"}), "invalid-payload"),
        ("ping-flood-id-number", envelope("ping", {"flood_id": 7}), "invalid-payload"),
        ("hello-pubkey-number", envelope("hello", {"pubkey": 1}), "invalid-payload"),
        ("handshake-binarize-string", envelope("shake", {"binarize": "yes"}), "invalid-payload"),
        (
            "intercom-without-ciphertext",
            envelope("intercom", {"signature": "c2ln"}),
            "invalid-payload",
        ),
        ("rendezvous-unknown-cmd", envelope("rendezvous", {"cmd": "steal"}), "invalid-payload"),
        ("bin-with-json-payload", envelope("bin", {}), "invalid-payload"),
        (
            "bin-metadata-rate-string",
            {"msg_type": "bin", "metadata": {"sample_rate": "fast"}},
            "invalid-payload",
        ),
        ("metadata-list", envelope("bus", BUS, metadata=[]), "invalid-payload"),
        ("route-not-list", envelope("bus", BUS, route={"source": "a"}), "invalid-payload"),
        (
            "route-hop-without-source",
            envelope("bus", BUS, route=[{"targets": []}]),
            "invalid-payload",
        ),
        ("target-site-id-number", envelope("bus", BUS, target_site_id=5), "invalid-payload"),
        ("node-object", envelope("bus", BUS, node={}), "invalid-payload"),
        ("envelope-is-list", [envelope("bus", BUS)], "invalid-payload"),
        ("envelope-is-string", "bus", "invalid-payload"),
    ]


def main() -> None:
    out = Path(sys.argv[1])
    schemas = [json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.schema.json"))]
    registry = referencing.Registry().with_resources(
        (s["$id"], referencing.Resource.from_contents(s)) for s in schemas
    )
    root = next(s for s in schemas if s["$id"].endswith("/hive_message.schema.json"))
    validator = jsonschema.Draft202012Validator(root, registry=registry)
    vectors: list[dict[str, Any]] = []
    for name, value in valid_vectors():
        if not validator.is_valid(value):
            raise SystemExit(f"{name}: meant valid, the schema refuses it")
        vectors.append(
            {
                "id": f"valid-{name}",
                "text": json.dumps(value, ensure_ascii=False),
                "msg_type": value["msg_type"],
            }
        )
    for name, value, code in invalid_vectors():
        if validator.is_valid(value):
            raise SystemExit(f"{name}: meant invalid, the schema accepts it")
        vectors.append(
            {"id": f"invalid-{name}", "text": json.dumps(value, ensure_ascii=False), "error": code}
        )
    for name, text in [
        ("not-json", "{msg_type: bus}"),
        ("truncated-json", '{"msg_type": "bus", "payload": {'),
        ("empty-text", ""),
        ("nan-and-garbage", '{"msg_type": "bus"} trailing'),
    ]:
        vectors.append({"id": f"invalid-{name}", "text": text, "error": "invalid-json"})
    write_vector_file(
        out / "message-json.json",
        "message-json",
        "conformance/generators/messages.py: envelopes checked against schema/hive_message.schema.json with jsonschema",
        vectors,
    )


if __name__ == "__main__":
    main()
