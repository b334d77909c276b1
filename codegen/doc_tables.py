"""Markdown tables generated from ``schema/``, kept inside the hand-written documents.

A document marks each generated region with a pair of comments::

    <!-- BEGIN GENERATED: frame-layout (python -m codegen) -->
    ...table, rewritten by codegen...
    <!-- END GENERATED -->

``python -m codegen`` rewrites every marked region of ``docs/*.md``; ``--check`` reports a
region whose text differs from what the schemas give, naming the file and the region. Prose
outside the markers is never touched. The regions (see :data:`REGIONS`):

- ``frame-layout``: the fields of ``schema/hivemind_frame.ksy``, in wire order, per layout;
- ``binary-subtypes``: the ``binary_type`` enum of the same file;
- ``message-types``: name, wire string, binary type code and payload definition of each type.
  Codes and names come from the ``.ksy`` ``message_type`` enum; wire strings from the
  ``message_type`` enum of ``schema/hive_message.schema.json``, which lists them in code order
  (wire strings after the last code have no binary form); payload definitions from the
  schema's ``if msg_type ... then payload ...`` rules;
- ``payload-fields``: one table per ``$defs`` entry of ``hive_message.schema.json``.

Deterministic, stdlib + PyYAML only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "REGIONS",
    "DocError",
    "doc_problems",
    "find_regions",
    "render_document",
    "write_docs",
]

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "schema"
FRAME_KSY = SCHEMA_DIR / "hivemind_frame.ksy"
MESSAGE_SCHEMA = SCHEMA_DIR / "hive_message.schema.json"

BEGIN = re.compile(r"^<!-- BEGIN GENERATED: ([a-z0-9-]+) \(python -m codegen\) -->$")
END = "<!-- END GENERATED -->"


class DocError(Exception):
    """A document's markers are malformed (unknown region, missing END, nesting)."""


# --------------------------------------------------------------------------- helpers


def _load_ksy() -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(FRAME_KSY.read_text())
    return loaded


def _load_message_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(MESSAGE_SCHEMA.read_text())
    return loaded


def _cell(text: object) -> str:
    """One table cell: a single line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _code(text: object) -> str:
    return f"`{text}`"


# --------------------------------------------------------------------------- frame layout


def _width(field: Mapping[str, Any]) -> tuple[str, str]:
    """(width, kind) of one ``seq`` entry that is not a user type."""
    type_name = field.get("type")
    if isinstance(type_name, str) and re.fullmatch(r"b\d+", type_name):
        bits = int(type_name[1:])
        if field.get("repeat") == "expr":
            return f"8 * {field['repeat-expr']}", "bytes"
        if "enum" in field:
            return str(bits), f"enum {_code(field['enum'])}"
        return str(bits), "flag" if bits == 1 else f"unsigned, {bits} bits"
    if isinstance(type_name, str) and re.fullmatch(r"u\d", type_name):
        return str(8 * int(type_name[1:])), "unsigned"
    if "size" in field:
        return f"8 * {field['size']}", "bytes"
    if field.get("size-eos"):
        return "rest of frame", "bytes"
    raise SystemExit(f"codegen: doc tables cannot describe field {field.get('id')!r}")


def _rule(field: Mapping[str, Any]) -> str:
    if "valid" not in field:
        return ""
    valid = field["valid"]
    value = int(valid) if isinstance(valid, bool) else valid
    return f"must be {value}"


def _walk(
    ksy: Mapping[str, Any], type_name: str, prefix: str, condition: str
) -> Iterator[list[str]]:
    """Rows for every leaf field of ``type_name``, user types expanded in place."""
    types = ksy.get("types", {})
    for field in types[type_name].get("seq", []):
        name = prefix + field["id"]
        conditions = [c for c in (condition, _qualify(field.get("if"), prefix)) if c]
        present = " and ".join(conditions)
        sub = field.get("type")
        if isinstance(sub, str) and sub in types:
            yield from _walk(ksy, sub, name + ".", present)
            continue
        width, kind = _width(field)
        rule = _rule(field)
        meaning = " ".join(str(field.get("doc", "")).split())
        yield [_code(name), width, kind, _code(present) if present else "always", rule, meaning]


def _qualify(expression: object, prefix: str) -> str:
    """An ``if`` expression, its field names qualified by the enclosing path."""
    if expression is None:
        return ""

    def qualify(match: re.Match[str]) -> str:
        word = match[1]
        return word if word in _KEYWORDS else prefix + word

    return re.sub(r"\b([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\b", qualify, str(expression))


_KEYWORDS = frozenset({"and", "or", "not", "true", "false"})


def frame_layout() -> list[str]:
    """One table per frame layout (the root ``switch-on`` cases), fields in wire order."""
    ksy = _load_ksy()
    root = ksy["seq"]
    if len(root) != 1 or "switch-on" not in root[0].get("type", {}):
        raise SystemExit("codegen: doc tables expect one switched root field in the .ksy")
    switch = root[0]["type"]
    lines: list[str] = []
    header = ["field", "bits", "kind", "present when", "rule", "meaning"]
    for value, case in switch["cases"].items():
        definition = ksy["types"][case]
        doc = " ".join(str(definition.get("doc", "")).split())
        lines.append(f"**{case}** (`{switch['switch-on']}` = {value}): {doc}")
        lines.append("")
        lines += _table(header, list(_walk(ksy, case, "", "")))
        lines.append("")
    computed = [
        f"`{type_name}.{name}` = `{instance['value']}`"
        for type_name, definition in ksy["types"].items()
        for name, instance in definition.get("instances", {}).items()
        if "value" in instance
    ]
    if computed:
        lines.append("Computed: " + "; ".join(computed) + ".")
    return lines


def binary_subtypes() -> list[str]:
    """The ``binary_type`` enum."""
    enum = _load_ksy()["enums"]["binary_type"]
    rows = [[str(code), _code(str(name).upper())] for code, name in sorted(enum.items())]
    return _table(["code", "subtype"], rows)


# --------------------------------------------------------------------------- message types


def payload_definitions(schema: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """wire string -> {envelope field: definition} from the schema's if/then rules."""
    found: dict[str, dict[str, str]] = {}
    for rule in schema.get("allOf", []):
        if "if" not in rule:
            continue
        wire = rule["if"]["properties"]["msg_type"]["const"]
        for target, sub in rule["then"]["properties"].items():
            found.setdefault(wire, {})[target] = str(sub["$ref"]).removeprefix("#/$defs/")
    return found


def message_type_rows() -> list[list[str]]:
    """(name, wire string, code, payload, metadata) for every message type."""
    ksy_enum = _load_ksy()["enums"]["message_type"]
    schema = _load_message_schema()
    wires = schema["$defs"]["message_type"]["enum"]
    codes = sorted(ksy_enum)
    if codes != list(range(len(codes))) or len(wires) < len(codes):
        raise SystemExit(
            "codegen: the .ksy message_type codes must run 0..n-1 and the JSON Schema must list"
            " a wire string for each, in code order"
        )
    definitions = payload_definitions(schema)
    rows = []
    for index, wire in enumerate(wires):
        if index < len(codes):
            name, code = str(ksy_enum[index]).upper(), str(index)
        else:
            name, code = wire.upper(), "none (text only)"
        targets = definitions.get(wire, {})
        payload = targets.get("payload", "")
        payload = (
            "nested envelope" if payload == "#" else _code(payload) if payload else "any object"
        )
        metadata = _code(targets["metadata"]) if "metadata" in targets else ""
        rows.append([name, _code(wire), code, payload, metadata])
    return rows


def message_types() -> list[str]:
    """The message type table."""
    header = ["type", "wire string (`msg_type`)", "binary code", "payload", "metadata"]
    return _table(header, message_type_rows())


# --------------------------------------------------------------------------- payload fields


def _type_of(spec: Mapping[str, Any]) -> str:
    if "$ref" in spec:
        ref = str(spec["$ref"])
        return "nested envelope" if ref == "#" else _code(ref.removeprefix("#/$defs/"))
    if "enum" in spec:
        return "one of " + ", ".join(_code(json.dumps(value)) for value in spec["enum"])
    if "const" in spec:
        return _code(json.dumps(spec["const"]))
    kind = spec.get("type")
    names = [str(kind)] if isinstance(kind, str) else [str(k) for k in kind or []]
    if "array" in names and "items" in spec:
        names = [f"array of {_type_of(spec['items'])}" if n == "array" else n for n in names]
    text = " or ".join(names) if names else "any"
    if "minimum" in spec:
        text += f" ≥ {spec['minimum']}"
    return text


def payload_fields() -> list[str]:
    """One table per ``$defs`` entry: field, type, required, meaning."""
    lines: list[str] = []
    for name, definition in _load_message_schema()["$defs"].items():
        lines.append(f"#### `{name}`")
        lines.append("")
        description = " ".join(str(definition.get("description", "")).split())
        if description:
            lines += [description, ""]
        if "properties" in definition:
            required = set(definition.get("required", []))
            rows = [
                [
                    _code(field),
                    _type_of(spec),
                    "yes" if field in required else "no",
                    " ".join(str(spec.get("description", "")).split()),
                ]
                for field, spec in definition["properties"].items()
            ]
            lines += _table(["field", "type", "required", "meaning"], rows)
        elif "anyOf" in definition:
            choices = ", ".join(_type_of(choice) for choice in definition["anyOf"])
            lines.append(f"Any one of: {choices}.")
        elif "enum" in definition:
            lines.append(f"Value: {_type_of(definition)}.")
        elif definition.get("not") == {}:
            lines.append("No JSON value is valid.")
        else:
            raise SystemExit(f"codegen: doc tables cannot describe $defs/{name}")
        lines.append("")
    return lines[:-1]


# --------------------------------------------------------------------------- documents

REGIONS: dict[str, Callable[[], list[str]]] = {
    "frame-layout": frame_layout,
    "binary-subtypes": binary_subtypes,
    "message-types": message_types,
    "payload-fields": payload_fields,
}
"""Region name -> the lines it holds."""


def find_regions(text: str) -> list[tuple[str, int, int]]:
    """(name, first line inside, END line) for every marked region, in order."""
    lines = text.split("\n")
    regions = []
    open_name: str | None = None
    start = 0
    for number, line in enumerate(lines):
        match = BEGIN.match(line.strip())
        if match:
            if open_name is not None:
                raise DocError(f"line {number + 1}: region {match[1]!r} opens inside {open_name!r}")
            if match[1] not in REGIONS:
                known = ", ".join(sorted(REGIONS))
                raise DocError(f"line {number + 1}: unknown region {match[1]!r} (known: {known})")
            open_name, start = match[1], number + 1
        elif line.strip() == END:
            if open_name is None:
                raise DocError(f"line {number + 1}: {END} without a BEGIN")
            regions.append((open_name, start, number))
            open_name = None
    if open_name is not None:
        raise DocError(f"region {open_name!r} has no {END}")
    return regions


def render_document(text: str, cache: dict[str, list[str]] | None = None) -> str:
    """``text`` with every marked region holding what the schemas give now."""
    cache = {} if cache is None else cache
    lines = text.split("\n")
    out: list[str] = []
    position = 0
    for name, start, end in find_regions(text):
        out += lines[position:start]
        if name not in cache:
            cache[name] = REGIONS[name]()
        out += cache[name]
        position = end
    out += lines[position:]
    return "\n".join(out)


def _stale_regions(text: str, fresh: str) -> list[str]:
    have = {name: text.split("\n")[a:b] for name, a, b in find_regions(text)}
    want = {name: fresh.split("\n")[a:b] for name, a, b in find_regions(fresh)}
    return [name for name in have if have[name] != want.get(name)]


def documents(docs_dir: Path) -> list[Path]:
    """The markdown files that may hold generated regions."""
    return sorted(docs_dir.glob("*.md"))


def doc_problems(docs_dir: Path, root: Path = ROOT) -> list[str]:
    """One line per stale region or malformed document under ``docs_dir``."""
    problems = []
    cache: dict[str, list[str]] = {}
    for path in documents(docs_dir):
        label = path.relative_to(root) if path.is_relative_to(root) else path
        text = path.read_text()
        try:
            fresh = render_document(text, cache)
        except DocError as exc:
            problems.append(f"{label}: {exc}")
            continue
        for name in _stale_regions(text, fresh):
            problems.append(f"{label}: generated region {name!r} is stale")
    return problems


def write_docs(docs_dir: Path) -> list[Path]:
    """Rewrite the marked regions of every document; the files that changed."""
    changed = []
    cache: dict[str, list[str]] = {}
    for path in documents(docs_dir):
        text = path.read_text()
        try:
            fresh = render_document(text, cache)
        except DocError as exc:
            raise SystemExit(f"codegen: {path}: {exc}") from None
        if fresh != text:
            path.write_text(fresh)
            changed.append(path)
    return changed
