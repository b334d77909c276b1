"use strict";
// The HiveMind binary frame (protocol v1 "binarize" framing), written from
// schema/hivemind_frame.ksy. Plain Node: Buffer and zlib, nothing else.
//
// Layout (bits, MSB first): [0000 if BINARY] 1 | versioned:1 | [version:8 if versioned] |
// type:5 | compressed:1 | metadata_length:8 | metadata | [subtype:4 if BINARY] | payload.
// The first bit tells the two layouts apart: 1 is the start bit of an unpadded frame,
// 0 begins the four padding bits of a BINARY frame.

const zlib = require("zlib");
const { compress } = require("./deflate");
const { validateMessage } = require("./schema");

// enum message_type of the .ksy, as the wire strings of schema/hive_message.schema.json
const TYPES = [
  "shake", "bus", "shared_bus", "broadcast", "propagate", "escalate", "hello",
  "query", "cascade", "ping", "rendezvous", "3rdparty", "bin",
];
const BINARY = 12;
const FRAME_VERSION = 1; // a versioned frame carries 1; decoders accept 0 and 1
const MAX_METADATA = 255; // the metadata length field is 8 bits
const MAX_INFLATED = 32 * 1024 * 1024; // the inflation bound of every compressed field

class FrameError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "FrameError";
    this.code = code;
  }
}

/** MSB-first bit reader; running off the end is a truncated frame. */
class BitReader {
  constructor(buf) {
    this.buf = buf;
    this.bit = 0;
  }
  need(n, what) {
    if (this.bit + n > this.buf.length * 8) {
      throw new FrameError("truncated-frame", `frame ends inside ${what}`);
    }
  }
  bits(n, what) {
    this.need(n, what);
    let value = 0;
    for (let i = 0; i < n; i++, this.bit++) {
      value = value * 2 + ((this.buf[this.bit >> 3] >> (7 - (this.bit & 7))) & 1);
    }
    return value;
  }
  bytes(n, what) {
    this.need(8 * n, what);
    if (this.bit % 8 === 0) {
      const out = this.buf.subarray(this.bit / 8, this.bit / 8 + n);
      this.bit += 8 * n;
      return out;
    }
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.bits(8, what);
    return out;
  }
  rest() {
    // Both layouts bring the payload back onto the byte grid (see the .ksy).
    return this.bytes(this.buf.length - this.bit / 8, "payload");
  }
}

/** MSB-first bit writer for the header, metadata and subtype (the payload is appended whole). */
class BitWriter {
  constructor() {
    this.out = [];
    this.acc = 0;
    this.count = 0;
  }
  bits(value, n) {
    for (let i = n - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | (Math.floor(value / 2 ** i) & 1);
      if (++this.count === 8) {
        this.out.push(this.acc);
        this.acc = 0;
        this.count = 0;
      }
    }
  }
  bytes(buf) {
    for (const byte of buf) this.bits(byte, 8);
  }
  finish() {
    if (this.count !== 0) throw new Error("frame prefix is not a whole number of bytes");
    return Buffer.from(this.out);
  }
}

/** One zlib stream, at most `limit` bytes of output, nothing after its end. */
function inflate(data, limit = MAX_INFLATED) {
  let out;
  try {
    // maxOutputLength makes zlib stop (RangeError) instead of inflating a bomb.
    out = zlib.inflateSync(data, { maxOutputLength: limit, info: true });
  } catch (e) {
    if (e instanceof RangeError || e.code === "ERR_BUFFER_TOO_LARGE") {
      throw new FrameError("payload-too-large", `compressed field inflates beyond ${limit} bytes`);
    }
    throw new FrameError("corrupt-compression", `zlib stream is damaged: ${e.message}`);
  }
  if (out.buffer.length > limit) {
    throw new FrameError("payload-too-large", `compressed field inflates beyond ${limit} bytes`);
  }
  // Node's inflateSync stops at the end of the stream and ignores what follows; the engine's
  // bytesWritten is the input it consumed, so trailing bytes show as a shortfall.
  if (out.engine.bytesWritten !== data.length) {
    throw new FrameError("corrupt-compression", "data follows the end of the zlib stream");
  }
  return out.buffer;
}

/** frame bytes -> {msgType, code, compressed, versioned, version, metadata, payload, binType} */
function decodeFrame(frame, { maxInflated = MAX_INFLATED } = {}) {
  const r = new BitReader(frame);
  r.need(1, "the first byte");
  const padded = (frame[0] >> 7) === 0;
  if (padded && r.bits(4, "the padding") !== 0) {
    throw new FrameError("truncated-frame", "padding bits are not zero");
  }
  if (r.bits(1, "the header") !== 1) {
    throw new FrameError("truncated-frame", "no start bit after the padding");
  }
  const versioned = r.bits(1, "the header") === 1;
  const version = versioned ? r.bits(8, "the version") : 0;
  const code = r.bits(5, "the type code");
  const compressed = r.bits(1, "the header") === 1;
  if (version > FRAME_VERSION) {
    // the .ksy reads no body for such a frame: its layout is not ours to know
    throw new FrameError("unsupported-version", `frame format version ${version}`);
  }
  const size = r.bits(8, "the metadata length");
  let metadata = r.bytes(size, "the metadata");
  const binType = padded ? r.bits(4, "the binary subtype") : 0;
  let payload = r.rest();
  if (code >= TYPES.length) {
    throw new FrameError("unknown-message-type", `type code ${code}`);
  }
  if (padded !== (code === BINARY)) {
    throw new FrameError("truncated-frame", `${TYPES[code]} frame with the wrong padding`);
  }
  if (compressed) {
    // Each field is its own zlib stream; a BINARY payload is never compressed.
    // An empty field stays empty (the spec is silent; our Python library does the same).
    if (metadata.length) metadata = inflate(metadata, maxInflated);
    if (payload.length && !padded) payload = inflate(payload, maxInflated);
  }
  return { msgType: TYPES[code], code, compressed, versioned, version, metadata, payload, binType };
}

/** {msgType, metadata, payload, compressed, versioned, binType} -> frame bytes */
function encodeFrame({ msgType, metadata, payload, compressed = false, versioned = false, binType = 0 }) {
  const code = TYPES.indexOf(msgType);
  if (code < 0) throw new FrameError("unknown-message-type", `no type code for ${msgType}`);
  const binary = code === BINARY;
  if (!Number.isInteger(binType) || binType < 0 || binType > 15 || (binType && !binary)) {
    throw new FrameError("invalid-argument", `bin_type ${binType} for a ${msgType} frame`);
  }
  if (compressed) {
    // Stock zlib's level-6 bytes (deflate.js): Node's own zlib.deflateSync is Chromium's
    // fork and gives other, equally valid, bytes than the reference's Python zlib.
    metadata = compress(metadata);
    if (!binary) payload = compress(payload);
  }
  if (metadata.length > MAX_METADATA) {
    throw new FrameError("metadata-too-large", `metadata is ${metadata.length} bytes, the field holds ${MAX_METADATA}`);
  }
  const w = new BitWriter();
  if (binary) w.bits(0, 4);
  w.bits(1, 1);
  w.bits(versioned ? 1 : 0, 1);
  if (versioned) w.bits(FRAME_VERSION, 8);
  w.bits(code, 5);
  w.bits(compressed ? 1 : 0, 1);
  w.bits(metadata.length, 8);
  w.bytes(metadata);
  if (binary) w.bits(binType, 4);
  return Buffer.concat([w.finish(), payload]);
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** JSON text that must hold an object: invalid-json, then invalid-payload. */
function parseObject(bytes, what) {
  let value;
  try {
    value = JSON.parse(UTF8.decode(bytes));
  } catch (e) {
    throw new FrameError("invalid-json", `${what} is not UTF-8 JSON: ${e.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FrameError("invalid-payload", `${what} is JSON but not an object`);
  }
  return value;
}

/** frame bytes -> a validated message {msg_type, metadata, payload | binary, bin_type}. */
function decodeMessageFrame(frame, options) {
  const f = decodeFrame(frame, options);
  // A 0-byte metadata block means no metadata (the spec is silent; our library reads {}).
  const metadata = f.metadata.length ? parseObject(f.metadata, "metadata") : {};
  const message = { msg_type: f.msgType, metadata };
  if (f.code !== BINARY) message.payload = parseObject(f.payload, "payload");
  const problem = validateMessage(message);
  if (problem) throw new FrameError(problem.code, problem.message);
  if (f.code === BINARY) Object.assign(message, { binary: f.payload, bin_type: f.binType });
  return message;
}

module.exports = { TYPES, FrameError, decodeFrame, encodeFrame, decodeMessageFrame, inflate, MAX_INFLATED };
