#!/usr/bin/env node
"use strict";
// The conformance adapter protocol (conformance/README.md) around frame.js: one JSON request
// per line on stdin, one JSON answer per line on stdout, in order; exit when stdin closes.
//
//   node conformance/adapters/js/hivemind-frame-adapter.js
//
// HIVEMIND_JS_ADAPTER_TAMPER=1 flips the last bit of every encoded frame; the tests use it to
// show that the runner catches a wrong answer.

const readline = require("readline");
const { decodeFrame, encodeFrame, decodeMessageFrame } = require("./frame");

const IMPLEMENTATION = "hivemind-frame-js 1.0 (node " + process.versions.node + ")";
const TAMPER = process.env.HIVEMIND_JS_ADAPTER_TAMPER === "1";

// Vector hex may have any case on input; the adapter answers lowercase, as the format asks.
const fromHex = (hex) => {
  if (typeof hex !== "string" || hex.length % 2 || /[^0-9a-fA-F]/.test(hex)) {
    throw Object.assign(new Error("not a hex string"), { code: "invalid-argument" });
  }
  return Buffer.from(hex, "hex");
};

const operations = {
  decode_frame({ frame_hex }) {
    const f = decodeFrame(fromHex(frame_hex));
    const out = {
      msg_type: f.msgType,
      compressed: f.compressed,
      versioned: f.versioned,
      // the exact metadata text; bytes that are not UTF-8 would show as U+FFFD
      metadata_json: f.metadata.toString("utf-8"),
    };
    if (f.msgType === "bin") Object.assign(out, { payload_hex: f.payload.toString("hex"), bin_type: f.binType });
    else out.payload_json = f.payload.toString("utf-8");
    return out;
  },
  encode_frame(inputs) {
    const binary = inputs.payload_hex !== undefined;
    const frame = encodeFrame({
      msgType: inputs.msg_type,
      metadata: Buffer.from(inputs.metadata_json, "utf-8"),
      payload: binary ? fromHex(inputs.payload_hex) : Buffer.from(inputs.payload_json, "utf-8"),
      compressed: inputs.compressed === true,
      versioned: inputs.versioned === true,
      binType: inputs.bin_type === undefined ? 0 : inputs.bin_type,
    });
    if (TAMPER && frame.length) frame[frame.length - 1] ^= 1;
    return { frame_hex: frame.toString("hex") };
  },
  decode_message_frame({ frame_hex }) {
    return { msg_type: decodeMessageFrame(fromHex(frame_hex)).msg_type };
  },
};

function answer(request) {
  const { id, operation, inputs } = request;
  if (operation === "hello") {
    return { id, outputs: { implementation: IMPLEMENTATION, operations: Object.keys(operations) } };
  }
  if (!Object.prototype.hasOwnProperty.call(operations, operation)) return { id, unsupported: true };
  try {
    return { id, outputs: operations[operation](inputs || {}) };
  } catch (e) {
    // Our own errors carry a conformance code; anything else is a bug, shown as such.
    return { id, error: e.code && !String(e.code).startsWith("ERR_") ? e.code : `exception:${e.name}`, message: String(e.message).slice(0, 500) };
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  process.stdout.write(JSON.stringify(answer(JSON.parse(line))) + "\n");
});
