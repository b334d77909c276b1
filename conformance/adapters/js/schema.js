"use strict";
// Validates a decoded message against schema/hive_message.schema.json, read at start-up.
// Only the JSON Schema keywords that schema uses are implemented; any other keyword makes
// loading fail, so a changed schema cannot be misread silently.

const fs = require("fs");
const path = require("path");

// conformance/schema/ (symlinks to the repository's schema/ in a checkout; real files when installed)
const SCHEMA_PATH = path.join(__dirname, "..", "..", "schema", "hive_message.schema.json");
const MAX_NESTING = 16; // how many wrapping envelopes may nest (the "#" self-reference)
const ANNOTATIONS = new Set(["$schema", "$id", "title", "description", "$defs"]);
const KEYWORDS = new Set([
  "$ref", "allOf", "anyOf", "if", "then", "else", "not", "type", "enum", "const",
  "required", "properties", "items", "minimum",
]);

function checkKeywords(schema, where) {
  if (typeof schema !== "object" || schema === null) return;
  for (const [key, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(key)) {
      if (key === "$defs") for (const [n, d] of Object.entries(value)) checkKeywords(d, `${where}/$defs/${n}`);
      continue;
    }
    if (!KEYWORDS.has(key)) throw new Error(`${SCHEMA_PATH}: unsupported keyword ${key} at ${where}`);
    if (key === "properties") for (const [n, d] of Object.entries(value)) checkKeywords(d, `${where}/properties/${n}`);
    else if (key === "allOf" || key === "anyOf") value.forEach((d, i) => checkKeywords(d, `${where}/${key}/${i}`));
    else if (["if", "then", "else", "not", "items"].includes(key)) checkKeywords(value, `${where}/${key}`);
  }
}

const ROOT = JSON.parse(fs.readFileSync(SCHEMA_PATH, "utf-8"));
checkKeywords(ROOT, "#");

function resolve(ref) {
  if (ref === "#") return ROOT;
  const match = /^#\/\$defs\/([A-Za-z0-9_]+)$/.exec(ref);
  if (!match || !(match[1] in ROOT.$defs)) throw new Error(`unsupported $ref ${ref}`);
  return ROOT.$defs[match[1]];
}

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value; // object, string, boolean
}

function hasType(value, type) {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

function equal(a, b) {
  return JSON.stringify(a) === JSON.stringify(b); // enough for the string constants in use
}

/** null when `value` satisfies `schema`, else {at, why, value} for the first failure found. */
function check(value, schema, at, depth) {
  const fail = (why) => ({ at, why, value });
  if (schema.$ref !== undefined) {
    const nested = schema.$ref === "#" ? depth + 1 : depth;
    if (nested > MAX_NESTING) return fail(`messages nest deeper than ${MAX_NESTING} levels`);
    const problem = check(value, resolve(schema.$ref), at, nested);
    if (problem) return problem;
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => hasType(value, t))) return fail(`must be ${types.join(" or ")}`);
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => equal(e, value))) {
    return fail(`must be one of ${schema.enum.join(", ")}`);
  }
  if (schema.const !== undefined && !equal(schema.const, value)) return fail(`must be ${schema.const}`);
  if (schema.minimum !== undefined && typeof value === "number" && value < schema.minimum) {
    return fail(`must be at least ${schema.minimum}`);
  }
  const isObject = typeOf(value) === "object";
  if (isObject && schema.required) {
    const missing = schema.required.find((name) => !Object.prototype.hasOwnProperty.call(value, name));
    if (missing !== undefined) return fail(`lacks ${missing}`);
  }
  if (isObject && schema.properties) {
    for (const [name, sub] of Object.entries(schema.properties)) {
      if (!Object.prototype.hasOwnProperty.call(value, name)) continue;
      const problem = check(value[name], sub, `${at}.${name}`, depth);
      if (problem) return problem;
    }
  }
  if (Array.isArray(value) && schema.items) {
    for (let i = 0; i < value.length; i++) {
      const problem = check(value[i], schema.items, `${at}[${i}]`, depth);
      if (problem) return problem;
    }
  }
  for (const sub of schema.allOf || []) {
    const problem = check(value, sub, at, depth);
    if (problem) return problem;
  }
  if (schema.anyOf && !schema.anyOf.some((sub) => !check(value, sub, at, depth))) {
    return fail("matches none of its allowed shapes");
  }
  if (schema.if !== undefined) {
    const branch = check(value, schema.if, at, depth) ? schema.else : schema.then;
    const problem = branch && check(value, branch, at, depth);
    if (problem) return problem;
  }
  if (schema.not !== undefined && !check(value, schema.not, at, depth)) return fail("must not be present");
  return null;
}

/**
 * null when the message envelope is valid, else {code, message}: an unknown msg_type string
 * (at any nesting level) is unknown-message-type, everything else invalid-payload.
 */
function validateMessage(message) {
  const problem = check(message, ROOT, "message", 0);
  if (!problem) return null;
  const unknownType =
    /\.msg_type$/.test(problem.at) && typeof problem.value === "string" && problem.why.startsWith("must be one of");
  return {
    code: unknownType ? "unknown-message-type" : "invalid-payload",
    message: `${problem.at} ${problem.why}`,
  };
}

module.exports = { validateMessage, MAX_NESTING };
