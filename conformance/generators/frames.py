# oracle: ref-0.7
"""Generate the `frame` and `frame-invalid` conformance vectors with the 0.7.0a2 reference.

Run it with the REFERENCE interpreter, never the project's:

    .venvs/ref-0.7/bin/python conformance/generators/frames.py conformance/vectors

It writes OUTDIR/frame.json, OUTDIR/frame-large.json and OUTDIR/frame-invalid.json
(format ``hivemind-conformance/1``, see docs/conformance.md). Output is deterministic:
all random data comes from fixed seeds and the vectors are built in a fixed order.

Positive vectors: the reference encoder (``get_bitstring``) produces ``frame_hex``; every other
field is derived from the inputs handed to it and then checked against the frame bytes with
an independent bit parser below (and zlib). The reference decoder (``decode_bitstring``) is run
as well; where it disagrees with the inputs the vector stays correct and gets a ``note``.

Negative vectors are assembled bit by bit with the small writer below; the note of each one
records what the reference decoder does with it.

Only the standard library and ``hivemind_bus_client`` are imported: the project's own library
must not be used to produce its own test vectors.
"""

from __future__ import annotations

import base64
import json
import random
import sys
import zlib
from importlib import metadata as importlib_metadata
from pathlib import Path

from _vectorfile import write_vector_file
from hivemind_bus_client.message import (
    HiveMessage,
    HiveMessageType,
    HiveMindBinaryPayloadType,
    Message,
)
from hivemind_bus_client.serialization import decode_bitstring, get_bitstring

FORMAT = "hivemind-conformance/1"

# Wire string of each 5-bit type code (index = code); 13..31 are unassigned.
WIRE_TYPES = [
    "shake",
    "bus",
    "shared_bus",
    "broadcast",
    "propagate",
    "escalate",
    "hello",
    "query",
    "cascade",
    "ping",
    "rendezvous",
    "3rdparty",
    "bin",
]
CODE_OF = {wire: code for code, wire in enumerate(WIRE_TYPES)}
BINARY_CODE = CODE_OF["bin"]
BIN_SUBTYPES = [
    "UNDEFINED",
    "RAW_AUDIO",
    "NUMPY_IMAGE",
    "FILE",
    "STT_AUDIO_TRANSCRIBE",
    "STT_AUDIO_HANDLE",
    "TTS_AUDIO",
]
MAX_INFLATED = 32 * 1024 * 1024  # decoders refuse a field that inflates to more than this
COMBOS = [(False, False), (True, False), (False, True), (True, True)]  # (compressed, versioned)


def _generator_text() -> str:
    versions = []
    for dist in ("hivemind_bus_client", "bitstring"):
        try:
            versions.append(f"{dist} {importlib_metadata.version(dist)}")
        except importlib_metadata.PackageNotFoundError:  # pragma: no cover
            versions.append(f"{dist} (version unknown)")
    return "conformance/generators/frames.py with " + ", ".join(versions)


# --------------------------------------------------------------------------------------------
# bits: a writer for hand-made frames and an independent, strict reader for checking frames
# --------------------------------------------------------------------------------------------


class BitWriter:
    """MSB-first bit accumulator; ``to_bytes`` requires a whole number of bytes."""

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def bits(self, value: int, width: int) -> BitWriter:
        if width < 0 or not 0 <= value < (1 << width):
            raise ValueError(f"{value} does not fit {width} bits")
        self.value = (self.value << width) | value
        self.length += width
        return self

    def raw(self, data: bytes) -> BitWriter:
        return self.bits(int.from_bytes(data, "big"), 8 * len(data)) if data else self

    def to_bytes(self) -> bytes:
        if self.length % 8:
            raise ValueError(f"{self.length} bits is not a whole number of bytes")
        return self.value.to_bytes(self.length // 8, "big")


def build_frame(
    code: int,
    metadata: bytes,
    payload: bytes = b"",
    *,
    compressed: bool = False,
    versioned: bool = False,
    version: int = 1,
    bin_type: int | None = None,
    pad: int | None = None,
    metalen: int | None = None,
    trailing_bits: tuple[int, int] | None = None,
) -> bytes:
    """Lay a frame out field by field. ``bin_type`` None means "no subtype field";
    ``pad`` defaults to 4 when a subtype is written, else 0; ``metalen`` overrides the length
    field; ``trailing_bits`` = (value, width) appended after the payload."""
    if pad is None:
        pad = 4 if bin_type is not None else 0
    w = BitWriter()
    w.bits(0, pad)
    w.bits(1, 1)  # start bit
    w.bits(int(versioned), 1)
    if versioned:
        w.bits(version, 8)
    w.bits(code, 5)
    w.bits(int(compressed), 1)
    w.bits(len(metadata) if metalen is None else metalen, 8)
    w.raw(metadata)
    if bin_type is not None:
        w.bits(bin_type, 4)
    w.raw(payload)
    if trailing_bits is not None:
        w.bits(*trailing_bits)
    return w.to_bytes()


def parse_frame(data: bytes) -> dict:
    """Strict reader of a valid frame (asserts on anything a valid frame must not be)."""
    head = data[:300]
    bits = "".join(f"{b:08b}" for b in head)
    pos = bits.index("1")

    def read(width: int) -> int:
        nonlocal pos
        assert pos + width <= len(bits), "frame ends inside a field"
        value = int(bits[pos : pos + width], 2) if width else 0
        pos += width
        return value

    pad = pos
    read(1)
    versioned = bool(read(1))
    version = read(8) if versioned else None
    code = read(5)
    compressed = bool(read(1))
    metalen = read(8)
    metadata = read(8 * metalen).to_bytes(metalen, "big") if metalen else b""
    bin_type = read(4) if code == BINARY_CODE else None
    assert pad == (4 if code == BINARY_CODE else 0), f"padding {pad} does not match type {code}"
    assert pos % 8 == 0, "payload is not byte aligned"
    return {
        "pad": pad,
        "versioned": versioned,
        "version": version,
        "code": code,
        "compressed": compressed,
        "metadata": metadata,
        "bin_type": bin_type,
        "payload": data[pos // 8 :],
    }


# --------------------------------------------------------------------------------------------
# the reference decoder, as an observer
# --------------------------------------------------------------------------------------------


def _short(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    if len(text) > 90:
        text = text[:87] + "..."
    return f"{type(exc).__name__}({text})" if text else type(exc).__name__


def reference_decode(frame: bytes):
    """(message, None) or (None, 'ExcName(message)')."""
    try:
        return decode_bitstring(frame), None
    except Exception as exc:  # the oracle raises many unrelated classes
        return None, _short(exc)


def reference_outcome(frame: bytes) -> str:
    """One sentence on what the 0.7.0a2 decoder does with a (negative) frame."""
    msg, err = reference_decode(frame)
    if err is not None:
        return f"0.7.0a2 decode_bitstring raises {err}"
    desc = (
        f"msg_type {str(msg.msg_type.value if hasattr(msg.msg_type, 'value') else msg.msg_type)!r}"
    )
    try:
        if msg.msg_type == HiveMessageType.BINARY:
            desc += f", bin_type {int(msg.bin_type)}, {len(msg.payload)}-byte payload"
        else:
            payload = json.dumps(msg._payload, ensure_ascii=True)
            if len(payload) > 60:
                payload = payload[:57] + "..."
            desc += f", payload {payload}"
        meta = json.dumps(msg.metadata, ensure_ascii=True)
        if len(meta) > 40:
            meta = meta[:37] + "..."
        desc += f", metadata {meta}"
    except Exception as exc:  # pragma: no cover - description only
        desc += f" (unprintable: {type(exc).__name__})"
    return f"0.7.0a2 decode_bitstring accepts it ({desc})"


# --------------------------------------------------------------------------------------------
# positive vectors
# --------------------------------------------------------------------------------------------


def _expected_text(obj) -> str:
    """The text the encoder is handed for a payload/metadata input (what cast2bytes writes)."""
    if hasattr(obj, "serialize"):
        obj = obj.serialize()
    if isinstance(obj, dict):
        return json.dumps(obj)
    assert isinstance(obj, str)
    return obj


def positive(
    vid: str,
    wire: str,
    payload,
    metadata,
    *,
    compressed: bool,
    versioned: bool,
    bin_type: int = 0,
    note: str | None = None,
) -> dict:
    """Encode with the reference; derive the vector from the inputs; check the frame bytes."""
    binary = wire == "bin"
    hive_type = HiveMessageType(wire)
    bits = get_bitstring(
        hive_type=hive_type,
        payload=payload,
        compressed=compressed,
        hivemeta=metadata,
        binary_type=HiveMindBinaryPayloadType(bin_type),
        versioned=versioned,
    )
    frame = bits.bytes
    # -- expectations from the inputs
    meta_text = _expected_text(metadata if metadata else {})
    meta_bytes = meta_text.encode("utf-8")
    if binary:
        assert isinstance(payload, bytes)
        payload_bytes = payload
    else:
        payload_text = _expected_text(payload)
        payload_bytes = payload_text.encode("utf-8")
    # -- independent check of the frame bytes against the inputs
    parsed = parse_frame(frame)
    assert parsed["code"] == CODE_OF[wire], vid
    assert parsed["versioned"] == versioned and parsed["version"] == (1 if versioned else None), vid
    assert parsed["compressed"] == compressed, vid
    got_meta = zlib.decompress(parsed["metadata"]) if compressed else parsed["metadata"]
    assert got_meta == meta_bytes, vid
    if compressed:
        assert parsed["metadata"] == zlib.compress(meta_bytes), vid
    if binary:
        assert parsed["bin_type"] == bin_type, vid
        assert parsed["payload"] == payload_bytes, vid  # BINARY payloads are never compressed
    else:
        got_payload = zlib.decompress(parsed["payload"]) if compressed else parsed["payload"]
        assert got_payload == payload_bytes, vid
        if compressed:
            assert parsed["payload"] == zlib.compress(payload_bytes), vid
    vector = {
        "id": vid,
        "msg_type": wire,
        "compressed": compressed,
        "versioned": versioned,
        "metadata_json": got_meta.decode("utf-8"),
    }
    if binary:
        vector["payload_hex"] = payload_bytes.hex()
        vector["bin_type"] = bin_type
    else:
        vector["payload_json"] = payload_bytes.decode("utf-8")
    vector["frame_hex"] = frame.hex()
    # -- what the reference decoder makes of its own frame
    deviations = []
    msg, err = reference_decode(frame)
    if err is not None:
        deviations.append(f"raises {err}")
    else:
        if msg.msg_type != wire:
            deviations.append(f"decodes the type as {msg.msg_type!r}")
        if msg.metadata != json.loads(meta_text):
            deviations.append(f"decodes the metadata as {json.dumps(msg.metadata)}")
        if binary:
            if int(msg.bin_type) != bin_type:
                deviations.append(f"decodes the subtype as {int(msg.bin_type)}")
            if msg.payload != payload_bytes:
                got = msg.payload
                shown = json.dumps(got) if isinstance(got, dict) else repr(got)[:40]
                deviations.append(
                    f"decodes the {len(payload_bytes)}-byte payload as {shown} "
                    f"({type(got).__name__})"
                )
        elif msg._payload != json.loads(payload_bytes):
            deviations.append("decodes a different payload object")
    notes = [note] if note else []
    if deviations:
        notes.append(
            "the 0.7.0a2 decoder deviates: "
            + "; ".join(deviations)
            + " (this vector follows the encoder's inputs)"
        )
    if notes:
        vector["note"] = "; ".join(notes)
    DEVIATIONS.extend(f"{vid}: {d}" for d in deviations)
    return vector


DEVIATIONS: list[str] = []


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _fake_pem(rng: random.Random) -> str:
    """A PEM-shaped RSA-2048 public key block (random body: only its shape matters here)."""
    body = base64.b64encode(
        bytes.fromhex("30820122300d06092a864886f70d01010105000382010f00") + rng.randbytes(270)
    ).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def _bus_context(rng: random.Random, session_id: str, site_id: str = "sala-de-estar") -> dict:
    return {
        "source": "HiveMessageBusClientV0.0.1",
        "platform": "HiveMessageBusClientV0.0.1",
        "destination": "HiveMind",
        "session": {"session_id": session_id, "site_id": site_id},
    }


def _envelope(inner_type: str, payload, *, metadata=None, route=None, target_site_id=None):
    """A nested HiveMessage as the reference builds it."""
    return HiveMessage(
        inner_type, payload, metadata=metadata, route=route, target_site_id=target_site_id
    )


def type_payloads(rng: random.Random) -> dict[str, tuple[object, dict, str]]:
    """(payload input, non-empty metadata, description) for each assigned type."""
    session = _uuid(rng)
    peer = f"HiveMessageBusClientV0.0.1::{rng.randrange(1, 99)}::sala::{session}"
    hub_pem = _fake_pem(rng)
    client_pem = _fake_pem(rng)
    utter = Message(
        "recognizer_loop:utterance",
        {"utterances": ["qual é a previsão do tempo para amanhã em São Paulo?"], "lang": "pt-PT"},
        _bus_context(rng, session),
    )
    speak = Message(
        "speak",
        {
            "utterance": "Morgen wird es sonnig, 23 °C — genieß den Tag! ☀️",
            "expect_response": False,
            "lang": "de-DE",
        },
        _bus_context(rng, session, "küche"),
    )
    shared = Message(
        "ovos.common_play.status",
        {"state": "playing", "title": "東京の夜 🎶"},
        _bus_context(rng, session),
    )
    route = [{"source": peer, "targets": ["master:0.0.0.0"]}]
    query_id = _uuid(rng)
    ping = {
        "flood_id": _uuid(rng),
        "peer": peer,
        "site_id": "sala-de-estar",
        "timestamp": 1735689600.25,
        "public_key": client_pem,
        "lang": "en-US",
    }
    return {
        "shake": (
            {
                "handshake": False,
                "min_protocol_version": 0,
                "max_protocol_version": 1,
                "binarize": True,
                "preshared_key": False,
                "password": True,
                "crypto_required": True,
                "encodings": [
                    "JSON-B64",
                    "JSON-URLSAFE-B64",
                    "JSON-B91",
                    "JSON-Z85B",
                    "JSON-Z85P",
                    "JSON-B32",
                    "JSON-HEX",
                ],
                "ciphers": ["CHACHA20-POLY1305", "AES-GCM"],
            },
            {"lang": "en-US"},
            "hub handshake offer (dict input)",
        ),
        "bus": (utter, {"lang": "pt-PT", "session_id": session}, "OVOS utterance (Message input)"),
        "shared_bus": (shared, {"site_id": "sala-de-estar"}, "OVOS status mirror (Message input)"),
        "broadcast": (
            _envelope("bus", speak, route=route),
            {"lang": "de-DE"},
            "nested BUS speak envelope",
        ),
        "propagate": (
            _envelope("ping", ping),
            {"flood_id": ping["flood_id"]},
            "PING inside PROPAGATE",
        ),
        "escalate": (
            _envelope("bus", utter, route=route, target_site_id="sala-de-estar"),
            {"lang": "pt-PT"},
            "nested BUS utterance envelope",
        ),
        "hello": (
            {"pubkey": hub_pem, "peer": peer, "node_id": "master:0.0.0.0"},
            {"lang": "en-US"},
            "hub HELLO with RSA PEM",
        ),
        "query": (
            _envelope(
                "bus",
                Message(
                    "question",
                    {"utterance": "¿quién escribió Cien años de soledad?", "lang": "es-ES"},
                    _bus_context(rng, session),
                ),
            ),
            {"query_id": query_id, "originator_peer": peer, "is_response": False},
            "nested BUS question envelope with query metadata",
        ),
        "cascade": (
            _envelope(
                "bus",
                Message(
                    "ovos.skills.fallback.ping",
                    {"lang": "fr-FR", "utterance": "où est la tour Eiffel ?"},
                    _bus_context(rng, session),
                ),
            ),
            {
                "query_id": query_id,
                "originator_peer": peer,
                "responder_peer": "satellite-2",
                "is_response": True,
            },
            "nested BUS envelope with cascade answer metadata",
        ),
        "ping": (ping, {"lang": "en-US"}, "PING object"),
        "rendezvous": (
            {
                "cmd": "deposit",
                "target_pubkey": client_pem,
                "payload": _envelope("bus", Message("speak", {"utterance": "olá"})).serialize(),
                "ttl": 3600,
            },
            {"lang": "en-US"},
            "mailbox deposit",
        ),
        "3rdparty": (
            {"event": "sensor.reading", "value": 21.5, "unit": "°C", "tags": ["sala", "温度"]},
            {"source": "home-assistant"},
            "user-land object",
        ),
    }


def frame_vectors() -> list[dict]:
    rng = random.Random(0x4D1)
    vectors: list[dict] = []
    payloads = type_payloads(rng)
    audio = random.Random(0xA0D10).randbytes(480)  # 15 ms of s16le 16 kHz mono noise

    # 1. every assigned type code, all four flag combinations
    for code, wire in enumerate(WIRE_TYPES):
        if wire == "bin":
            payload, meta, desc = audio, {"lang": "en-US", "sample_rate": 16000}, "RAW_AUDIO PCM"
        else:
            payload, meta, desc = payloads[wire]
        for i, (compressed, versioned) in enumerate(COMBOS):
            metadata = {} if i in (0, 3) else meta
            vid = (
                f"type{code:02d}-{wire}-{'compressed' if compressed else 'plain'}-"
                f"{'versioned' if versioned else 'unversioned'}"
            )
            vectors.append(
                positive(
                    vid,
                    wire,
                    payload,
                    metadata,
                    compressed=compressed,
                    versioned=versioned,
                    bin_type=1 if wire == "bin" else 0,
                    note=desc,
                )
            )

    # 2. the worked examples of docs/protocol.md section 4
    vectors.append(
        positive(
            "example-bus-test",
            "bus",
            '{"type":"test"}',
            {},
            compressed=False,
            versioned=False,
            note="docs/protocol.md section 4 example (str input)",
        )
    )
    vectors.append(
        positive(
            "example-bus-test-versioned",
            "bus",
            '{"type":"test"}',
            {},
            compressed=False,
            versioned=True,
            note="docs/protocol.md section 4 example, versioned",
        )
    )
    vectors.append(
        positive(
            "example-bin-raw-audio-0102",
            "bin",
            b"\x01\x02",
            {},
            compressed=False,
            versioned=False,
            bin_type=1,
            note="docs/protocol.md section 4 example",
        )
    )

    # 3. every BINARY subtype
    bin_meta = [
        {},
        {"sample_rate": 16000, "sample_width": 2},
        {"camera_id": "cam-entrada"},
        {"file_name": "relatório-2025.pdf"},
        {"lang": "en-US", "sample_rate": 16000, "sample_width": 2},
        {"lang": "pt-PT"},
        {"lang": "de-DE", "utterance": "Guten Morgen!"},
    ]
    brng = random.Random(0xB1A)
    for subtype, name in enumerate(BIN_SUBTYPES):
        data = brng.randbytes(brng.randrange(1, 96))
        compressed, versioned = COMBOS[subtype % 4]
        vectors.append(
            positive(
                f"bin-subtype{subtype}-{name.lower()}",
                "bin",
                data,
                bin_meta[subtype],
                compressed=compressed,
                versioned=versioned,
                bin_type=subtype,
                note=f"BINARY subtype {subtype} {name}",
            )
        )

    # 4. empty BINARY payloads
    for subtype, (compressed, versioned) in [
        (0, (False, False)),
        (1, (False, True)),
        (6, (True, False)),
        (3, (True, True)),
    ]:
        vectors.append(
            positive(
                f"bin-empty-payload-subtype{subtype}-{'compressed' if compressed else 'plain'}-"
                f"{'versioned' if versioned else 'unversioned'}",
                "bin",
                b"",
                {} if subtype in (0, 3) else {"lang": "en-US", "sample_rate": 16000},
                compressed=compressed,
                versioned=versioned,
                bin_type=subtype,
                note="empty BINARY payload",
            )
        )

    # 5. metadata sizes at the 8-bit limit (uncompressed JSON text of 250..255 bytes)
    def meta_of_size(size: int, key: str, base: dict) -> dict:
        meta = dict(base)
        meta[key] = ""
        meta[key] = "x" * (size - len(json.dumps(meta)))
        assert len(json.dumps(meta).encode()) == size
        return meta

    base_bus = {"lang": "en-US", "sample_rate": 16000}
    small_bus = Message("speak", {"utterance": "ok"}, {})
    for size in range(250, 256):
        vectors.append(
            positive(
                f"metadata-{size}-bytes-bus",
                "bus",
                small_bus,
                meta_of_size(size, "note", base_bus),
                compressed=False,
                versioned=size % 2 == 1,
                note=f"uncompressed metadata of {size} bytes",
            )
        )
    for size in (250, 255):
        vectors.append(
            positive(
                f"metadata-{size}-bytes-bin",
                "bin",
                b"\x00\x7f\x80\xff",
                meta_of_size(size, "utterance", base_bus),
                compressed=False,
                versioned=size == 255,
                bin_type=1,
                note=f"uncompressed metadata of {size} bytes in a padded BINARY frame",
            )
        )

    # 6. metadata over 255 bytes uncompressed that fits when compressed
    big_meta = {
        "lang": "en-US",
        "session": {
            "session_id": _uuid(rng),
            "site_id": "sala-de-estar",
            "active_skills": [[f"skill-{n}.openvoiceos", 1735689600 + n] for n in range(12)],
        },
    }
    big_text = json.dumps(big_meta)
    big_zsize = len(zlib.compress(big_text.encode()))
    assert len(big_text) > 255 and len(zlib.compress(big_text.encode())) <= 255
    try:
        get_bitstring(HiveMessageType.BUS, payload=small_bus, compressed=False, hivemeta=big_meta)
        plain_outcome = "encodes it"
    except Exception as exc:
        plain_outcome = f"raises {_short(exc)}"
    for wire, payload, bt in (("bus", small_bus, 0), ("bin", audio[:32], 1)):
        for versioned in (False, True):
            vectors.append(
                positive(
                    f"metadata-{len(big_text)}-bytes-compressed-{wire}-"
                    f"{'versioned' if versioned else 'unversioned'}",
                    wire,
                    payload,
                    big_meta,
                    compressed=True,
                    versioned=versioned,
                    bin_type=bt,
                    note=f"metadata is {len(big_text)} bytes, {big_zsize} compressed; "
                    f"uncompressed the 0.7.0a2 encoder {plain_outcome}",
                )
            )

    # 7. unicode in metadata
    uni_meta = {"utterance": "olá, mundo! 🌍", "lang": "pt-BR", "speaker": "Zoë Ångström"}
    for compressed in (False, True):
        vectors.append(
            positive(
                f"metadata-unicode-dict-{'compressed' if compressed else 'plain'}",
                "bus",
                small_bus,
                uni_meta,
                compressed=compressed,
                versioned=False,
                note="metadata handed over as a dict: the reference writes json.dumps "
                "text, so non-ASCII is \\u-escaped (astral chars as surrogate pairs)",
            )
        )
    raw_uni = json.dumps(uni_meta, ensure_ascii=False)
    for wire, payload, bt in (("bus", small_bus, 0), ("bin", audio[:16], 6)):
        for compressed in (False, True):
            vectors.append(
                positive(
                    f"metadata-unicode-utf8-{wire}-{'compressed' if compressed else 'plain'}",
                    wire,
                    payload,
                    raw_uni,
                    compressed=compressed,
                    versioned=compressed,
                    bin_type=bt,
                    note="metadata handed over as JSON text with raw UTF-8 (multi-byte and 4-byte "
                    "sequences in the metadata block)",
                )
            )

    # 8. payload text variants
    vectors.append(
        positive(
            "bus-payload-ascii-escaped",
            "bus",
            {"type": "speak", "data": {"utterance": "Привет, мир 👋"}, "context": {}},
            {},
            compressed=False,
            versioned=False,
            note="BUS payload handed over as a dict: json.dumps escapes non-ASCII",
        )
    )
    long_text = " ".join(
        ["O rato roeu a roupa do rei de Roma, e a rainha raivosa rasgou o resto."] * 40
    )
    vectors.append(
        positive(
            "bus-long-utterance-compressed",
            "bus",
            Message("speak", {"utterance": long_text}, {}),
            {"lang": "pt-PT"},
            compressed=True,
            versioned=False,
            note="repetitive text: compressed frame much shorter",
        )
    )
    core5_ping = {
        "flood_id": _uuid(rng),
        "peer": "hivemind-core::0::master::default",
        "site_id": None,
        "timestamp": 1767225600,
        "public_key": None,
    }
    vectors.append(
        positive(
            "propagate-ping-from-hub-routed",
            "propagate",
            _envelope(
                "ping", core5_ping, route=[{"source": "master:0.0.0.0", "targets": ["satellite-1"]}]
            ),
            {},
            compressed=False,
            versioned=True,
            note="hub-style PING (no lang, null site_id and key) inside PROPAGATE, "
            "with a route hop",
        )
    )
    vectors.append(
        positive(
            "hello-from-client",
            "hello",
            {
                "pubkey": _fake_pem(rng),
                "session": {"session_id": _uuid(rng), "site_id": "küche", "lang": "de-DE"},
                "site_id": "küche",
            },
            {},
            compressed=True,
            versioned=False,
            note="client HELLO after keying (dict input)",
        )
    )
    vectors.append(
        positive(
            "shake-response-envelope",
            "shake",
            {
                "envelope": "deadbeefcafebabe47f0753a5a76dd104638641f6f108805",
                "encoding": "JSON-B64",
                "cipher": "AES-GCM",
            },
            {},
            compressed=False,
            versioned=True,
            note="hub HANDSHAKE answer with its password envelope",
        )
    )
    return vectors


def large_vectors() -> list[dict]:
    vectors = []
    audio = random.Random(0x1A46E).randbytes(1048576)
    for versioned in (False, True):
        vectors.append(
            positive(
                f"bin-raw-audio-1mib-plain-{'versioned' if versioned else 'unversioned'}",
                "bin",
                audio,
                {"sample_rate": 16000, "sample_width": 2, "lang": "en-US"},
                compressed=False,
                versioned=versioned,
                bin_type=1,
                note="1 MiB (1048576 bytes) of seeded random RAW_AUDIO, uncompressed",
            )
        )
    # a BUS message whose payload text is exactly 1 MiB, compressed
    rng = random.Random(0xB16)
    words = [
        "hive",
        "mind",
        "satélite",
        "ponte",
        "voz",
        "Stimme",
        "声",
        "🐝",
        "mesh",
        "nó",
        "open",
        "voice",
        "OS",
        "ouvir",
        "falar",
        "música",
        "luz",
        "cozinha",
        "Wetter",
        "晴れ",
    ]
    target = 1048576
    shell = Message("speak", {"utterance": ""}, {"session": {"session_id": "default"}})
    overhead = len(shell.serialize().encode())
    parts: list[str] = []
    size = 0
    while size < target - overhead:
        word = rng.choice(words)
        parts.append(word)
        size += len(word.encode()) + 1
    text = " ".join(parts).encode()[: target - overhead].decode("utf-8", "ignore")
    text += "." * (target - overhead - len(text.encode()))
    msg = Message("speak", {"utterance": text}, {"session": {"session_id": "default"}})
    assert len(msg.serialize().encode()) == target
    vectors.append(
        positive(
            "bus-utterance-1mib-compressed",
            "bus",
            msg,
            {"lang": "pt-PT"},
            compressed=True,
            versioned=False,
            note="BUS payload text of exactly 1 MiB (seeded random words), compressed",
        )
    )
    return vectors


# --------------------------------------------------------------------------------------------
# negative vectors
# --------------------------------------------------------------------------------------------

BUS_TEST = b'{"type": "test", "data": {}, "context": {}}'


def invalid_vectors() -> list[dict]:
    vectors: list[dict] = []

    def neg(vid: str, frame: bytes, error: str, what: str) -> None:
        vectors.append(
            {
                "id": vid,
                "frame_hex": frame.hex(),
                "error": error,
                "note": f"{what}. {reference_outcome(frame)}",
            }
        )

    bus = CODE_OF["bus"]
    good_bus = build_frame(bus, b"{}", BUS_TEST)
    good_bin = build_frame(BINARY_CODE, b"{}", b"\x01\x02", bin_type=1)
    assert (
        build_frame(bus, b"{}", b'{"type":"test"}').hex()
        == "82027b7d7b2274797065223a2274657374227d"
    )
    assert good_bin.hex() == "098027b7d10102"

    # truncated-frame
    neg("truncated-empty", b"", "truncated-frame", "empty input")
    neg(
        "truncated-header-1-byte",
        good_bus[:1],
        "truncated-frame",
        "BUS header cut after its first byte (no metadata length)",
    )
    neg(
        "truncated-bin-header-1-byte",
        good_bin[:1],
        "truncated-frame",
        "BINARY frame cut after its first byte (padding and the start of the header)",
    )
    neg(
        "truncated-metadata-past-end",
        build_frame(bus, b"{}", metalen=5),
        "truncated-frame",
        "metadata length 5 but only 2 bytes follow",
    )
    neg(
        "truncated-metadata-255-empty",
        build_frame(bus, b"", metalen=255),
        "truncated-frame",
        "metadata length 255 and nothing after the header",
    )
    neg(
        "truncated-bin-metadata-past-end",
        build_frame(BINARY_CODE, b'{"lang": "en-US"}', metalen=200, bin_type=1),
        "truncated-frame",
        "BINARY frame whose metadata length (200) runs past the end",
    )
    neg(
        "truncated-versioned-in-version-byte",
        bytes.fromhex("c0"),
        "truncated-frame",
        "versioned frame cut inside the version byte (start and versioned bits, 6 version bits)",
    )
    neg(
        "truncated-versioned-after-version",
        build_frame(bus, b"{}", b"", versioned=True)[:2],
        "truncated-frame",
        "versioned BUS frame cut before the metadata length",
    )
    neg(
        "truncated-bin-no-room-for-subtype",
        build_frame(BINARY_CODE, b"{}", pad=0),
        "truncated-frame",
        "BINARY frame without padding that ends right after its metadata: "
        "no room for the 4-bit subtype",
    )
    neg(
        "truncated-bin-without-padding",
        build_frame(BINARY_CODE, b"{}", b"\x01\x02", bin_type=1, pad=0, trailing_bits=(0, 4)),
        "truncated-frame",
        "BINARY frame with 0 padding bits (subtype, 2 payload bytes, 4 stray "
        "bits): padding does not match the type",
    )
    neg(
        "truncated-bus-with-4-pad-bits",
        build_frame(bus, b"{}", BUS_TEST, pad=4, trailing_bits=(0, 4)),
        "truncated-frame",
        "BUS frame with 4 leading zero pad bits (payload then ends 4 bits off the byte grid): "
        "padding does not match the type",
    )
    neg(
        "truncated-bus-in-binary-layout",
        build_frame(bus, b"{}", BUS_TEST, bin_type=0),
        "truncated-frame",
        "BUS frame laid out like a BINARY one (4 pad bits and a 4-bit subtype): "
        "padding does not match the type",
    )
    neg("truncated-all-zero", bytes(6), "truncated-frame", "six zero bytes: no start bit")
    neg("truncated-single-zero-byte", b"\x00", "truncated-frame", "one zero byte: no start bit")
    neg(
        "truncated-leading-zero-byte-bus",
        b"\x00" + good_bus,
        "truncated-frame",
        "a valid BUS frame preceded by a whole zero byte (8 padding bits)",
    )
    neg(
        "truncated-leading-zero-byte-bin",
        b"\x00" + good_bin,
        "truncated-frame",
        "a valid BINARY frame preceded by a whole zero byte (12 padding bits)",
    )

    # unknown-message-type
    for code in range(13, 32):
        neg(
            f"unknown-type-{code}",
            build_frame(code, b"{}", BUS_TEST),
            "unknown-message-type",
            f"unassigned type code {code}, otherwise a well-formed unpadded frame",
        )
    neg(
        "unknown-type-31-versioned-compressed",
        build_frame(
            31, zlib.compress(b"{}"), zlib.compress(BUS_TEST), compressed=True, versioned=True
        ),
        "unknown-message-type",
        "unassigned type code 31 in a versioned (version 1), compressed frame",
    )

    # unsupported-version
    for version in (2, 3, 255):
        neg(
            f"unsupported-version-{version}",
            build_frame(bus, b"{}", BUS_TEST, versioned=True, version=version),
            "unsupported-version",
            f"versioned BUS frame with frame-format version {version}",
        )
    neg(
        "unsupported-version-2-bin",
        build_frame(BINARY_CODE, b"{}", b"\x01\x02", versioned=True, version=2, bin_type=1),
        "unsupported-version",
        "versioned BINARY frame with frame-format version 2",
    )

    # corrupt-compression
    zmeta = zlib.compress(b"{}")
    zbus = zlib.compress(BUS_TEST)
    neg(
        "corrupt-metadata-not-zlib",
        build_frame(bus, b"not zlib", zbus, compressed=True),
        "corrupt-compression",
        "compressed flag set, metadata bytes are not a zlib stream",
    )
    neg(
        "corrupt-payload-not-zlib",
        build_frame(bus, zmeta, b'{"type": "test"}', compressed=True),
        "corrupt-compression",
        "compressed flag set, valid zlib metadata, payload is plain JSON instead of zlib",
    )
    neg(
        "corrupt-payload-truncated-zlib",
        build_frame(bus, zmeta, zbus[:-6], compressed=True),
        "corrupt-compression",
        "payload zlib stream cut 6 bytes before its end",
    )
    neg(
        "corrupt-metadata-truncated-zlib",
        build_frame(bus, zlib.compress(b'{"lang": "en-US"}')[:-3], zbus, compressed=True),
        "corrupt-compression",
        "metadata zlib stream cut 3 bytes before its end (inside the checksum)",
    )
    bad_adler = zbus[:-1] + bytes([zbus[-1] ^ 0x01])
    neg(
        "corrupt-payload-bad-checksum",
        build_frame(bus, zmeta, bad_adler, compressed=True),
        "corrupt-compression",
        "payload zlib stream with a wrong Adler-32 checksum",
    )
    neg(
        "corrupt-payload-trailing-data",
        build_frame(bus, zmeta, zbus + b"\x00\x00", compressed=True),
        "corrupt-compression",
        "two bytes after the end of the payload zlib stream",
    )
    neg(
        "corrupt-bin-metadata-not-zlib",
        build_frame(BINARY_CODE, b"\x78\x9c garbage", b"\x01\x02", compressed=True, bin_type=1),
        "corrupt-compression",
        "compressed BINARY frame whose metadata is not a zlib stream " "(zlib header then garbage)",
    )

    # payload-too-large
    def zbomb(prefix: bytes, fill: bytes) -> bytes:
        size = MAX_INFLATED + 1
        z = zlib.compressobj(9)
        out = z.compress(prefix)
        chunk = fill * (1 << 20)
        remaining = size - len(prefix)
        while remaining:
            piece = chunk[: min(remaining, len(chunk))]
            out += z.compress(piece)
            remaining -= len(piece)
        return out + z.flush()

    zeros = zbomb(b"", b"\x00")
    assert len(zlib.decompress(zeros)) == MAX_INFLATED + 1
    neg(
        "payload-too-large-zeros",
        build_frame(bus, zmeta, zeros, compressed=True),
        "payload-too-large",
        f"compressed BUS payload of {len(zeros)} bytes inflating to "
        f"{MAX_INFLATED + 1} zero bytes (32 MiB + 1)",
    )
    spaces = zbomb(b'{"type": "bomb", "data": {}, "context": {}}', b" ")
    assert len(zlib.decompress(spaces)) == MAX_INFLATED + 1
    neg(
        "payload-too-large-valid-json",
        build_frame(bus, zmeta, spaces, compressed=True),
        "payload-too-large",
        f"compressed BUS payload of {len(spaces)} bytes inflating to a VALID "
        f"BUS message followed by whitespace, {MAX_INFLATED + 1} bytes in all "
        f"(32 MiB + 1): only a size limit rejects it",
    )

    # invalid-json
    neg(
        "invalid-json-metadata-not-utf8",
        build_frame(bus, b'{"lang": "\xff\xfe"}', BUS_TEST),
        "invalid-json",
        "metadata bytes are not UTF-8 (ff fe)",
    )
    neg(
        "invalid-json-metadata-overlong-utf8",
        build_frame(bus, b'{"k": "\xc0\xaf"}', BUS_TEST),
        "invalid-json",
        "metadata holds an overlong UTF-8 sequence (c0 af)",
    )
    neg(
        "invalid-json-metadata-not-json",
        build_frame(bus, b"{lang: en-US}", BUS_TEST),
        "invalid-json",
        "metadata is UTF-8 but not JSON",
    )
    neg(
        "invalid-json-metadata-not-json-compressed",
        build_frame(bus, zlib.compress(b'{"lang": '), zbus, compressed=True),
        "invalid-json",
        "compressed metadata inflates to an unterminated JSON text",
    )
    neg(
        "invalid-json-payload-not-json",
        build_frame(bus, b"{}", b"hello world"),
        "invalid-json",
        "BUS payload is not JSON",
    )
    neg(
        "invalid-json-payload-truncated-json",
        build_frame(bus, b"{}", BUS_TEST[:-1]),
        "invalid-json",
        "BUS payload JSON lacks its closing brace",
    )
    neg(
        "invalid-json-payload-not-json-compressed",
        build_frame(CODE_OF["hello"], zmeta, zlib.compress(b"<hello/>"), compressed=True),
        "invalid-json",
        "compressed HELLO payload inflates to text that is not JSON",
    )
    neg(
        "invalid-json-payload-not-utf8",
        build_frame(bus, b"{}", b'{"type": "t\xc3\x28"}'),
        "invalid-json",
        "BUS payload bytes are not UTF-8 (c3 28)",
    )
    neg(
        "invalid-json-payload-utf8-surrogate",
        build_frame(CODE_OF["3rdparty"], b"{}", b'{"k": "\xed\xa0\x80"}'),
        "invalid-json",
        "3rdparty payload holds a UTF-8-encoded surrogate (ed a0 80), which is not UTF-8",
    )

    # invalid-payload
    neg(
        "invalid-payload-metadata-array",
        build_frame(bus, b"[]", BUS_TEST),
        "invalid-payload",
        "metadata is JSON but an array, not an object",
    )
    neg(
        "invalid-payload-metadata-number",
        build_frame(bus, b"1", BUS_TEST),
        "invalid-payload",
        "metadata is JSON but a number",
    )
    neg(
        "invalid-payload-metadata-string-bin",
        build_frame(BINARY_CODE, b'"en-US"', b"\x01\x02", bin_type=1),
        "invalid-payload",
        "BINARY metadata is JSON but a string",
    )
    neg(
        "invalid-payload-metadata-null-compressed",
        build_frame(bus, zlib.compress(b"null"), zbus, compressed=True),
        "invalid-payload",
        "compressed metadata inflates to JSON null",
    )
    neg(
        "invalid-payload-payload-array",
        build_frame(CODE_OF["3rdparty"], b"{}", b"[1, 2, 3]"),
        "invalid-payload",
        "3rdparty payload is JSON but an array",
    )
    neg(
        "invalid-payload-payload-string",
        build_frame(CODE_OF["hello"], b"{}", b'"hello"'),
        "invalid-payload",
        "HELLO payload is JSON but a string",
    )
    neg(
        "invalid-payload-payload-null",
        build_frame(CODE_OF["shake"], b"{}", b"null"),
        "invalid-payload",
        "HANDSHAKE payload is JSON null",
    )
    neg(
        "invalid-payload-bus-no-type",
        build_frame(bus, b"{}", b'{"data": {}, "context": {}}'),
        "invalid-payload",
        "BUS payload object without a type",
    )
    neg(
        "invalid-payload-bus-type-not-string",
        build_frame(bus, b"{}", b'{"type": 42, "data": {}, "context": {}}'),
        "invalid-payload",
        "BUS payload whose type is a number, not a string",
    )
    neg(
        "invalid-payload-shared-bus-no-type",
        build_frame(
            CODE_OF["shared_bus"], zmeta, zlib.compress(b'{"data": {"x": 1}}'), compressed=True
        ),
        "invalid-payload",
        "compressed SHARED_BUS payload object without a type",
    )
    neg(
        "invalid-payload-propagate-no-msg-type",
        build_frame(CODE_OF["propagate"], b"{}", b'{"payload": {"type": "test"}, "metadata": {}}'),
        "invalid-payload",
        "PROPAGATE payload object that is not a HiveMessage envelope (no msg_type)",
    )
    return vectors


# --------------------------------------------------------------------------------------------


def write(path: Path, suite: str, vectors: list[dict]) -> None:
    write_vector_file(path, suite, _generator_text(), vectors)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    write(out / "frame.json", "frame", frame_vectors())
    write(out / "frame-large.json", "frame", large_vectors())
    write(out / "frame-invalid.json", "frame-invalid", invalid_vectors())
    for line in DEVIATIONS:
        print(f"reference decoder deviation: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
