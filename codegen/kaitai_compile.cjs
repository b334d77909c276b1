// Compile one .ksy file to Python with the pinned kaitai-struct-compiler (JS build).
// Usage: node codegen/kaitai_compile.cjs SCHEMA.ksy  -> prints {"file.py": "source", ...} as JSON.
"use strict";
const fs = require("fs");
const yaml = require("js-yaml");
const compiler = require("kaitai-struct-compiler");

async function main() {
  const path = process.argv[2];
  const ksy = yaml.load(fs.readFileSync(path, "utf8"));
  const importer = {
    importYaml: () => Promise.reject(new Error("imports are not used by our schemas")),
  };
  const files = await compiler.compile("python", ksy, importer, false);
  process.stdout.write(JSON.stringify(files));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
