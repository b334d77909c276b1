"""Generate a fast, dependency-free Python reader from a .ksy file.

The Kaitai compiler's Python output needs the ``kaitaistruct`` runtime and costs about 6 us
per small frame, more than half of our whole decode budget. This generator reads the same
.ksy and writes straight-line code: one function that keeps a bit position and slices the
input, with every user type inlined and every field a local variable. It supports exactly the
subset of Kaitai Struct our schemas use and refuses anything else, so a schema change that
needs more fails loudly here instead of generating a wrong reader.

Supported: ``seq`` attributes of type ``bN`` (``b1`` reads as bool), ``u1``, a user type, a
``switch-on`` of user types; byte fields with ``size`` or ``size-eos``; ``repeat: expr`` of
``b8`` (read as bytes); ``if``, scalar ``valid``, ``enum`` (kept as int; the enum classes
are emitted too); ``value`` instances and ``pos`` instances of ``u1``. Expressions use
identifiers, ``a.b`` paths, integers, ``true``/``false``, parentheses and the operators
``not and or >> << <= >= < > == != + - * & |``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["UnsupportedSchema", "generate_reader", "generate_reader_stub"]


class UnsupportedSchema(Exception):
    """The .ksy uses a construct this generator does not implement."""


_TOKEN = re.compile(
    r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(>>|<<|<=|>=|==|!=|[()<>+\-*&|]))"
)
_KEYWORDS = {"not": "not", "and": "and", "or": "or", "true": "True", "false": "False"}
_BITS = re.compile(r"^b([1-9]|[1-5][0-9]|6[0-4])$")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


@dataclass
class _Writer:
    """Accumulates the reader function's body and the names of its result fields."""

    schema: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def leaf(self, name: str) -> str:
        if name not in self.leaves:
            self.leaves.append(name)
        return name

    # -- expressions --------------------------------------------------------------------------
    def expression(self, text: Any, scope: str) -> str:
        if isinstance(text, bool):
            return "True" if text else "False"
        if isinstance(text, int):
            return str(text)
        source = str(text)
        out, pos = [], 0
        while pos < len(source):
            match = _TOKEN.match(source, pos)
            if not match or match.end() == pos:
                raise UnsupportedSchema(f"cannot translate expression {source!r}")
            number, name, operator = match.groups()
            if number:
                out.append(number)
            elif name:
                if name in _KEYWORDS:
                    out.append(_KEYWORDS[name])
                elif name.startswith("_"):
                    raise UnsupportedSchema(
                        f"{name!r} in {source!r}: only local names are supported"
                    )
                else:
                    out.append(scope + name.replace(".", "__"))
            else:
                out.append(operator)
            pos = match.end()
        return " ".join(out)

    # -- types ----------------------------------------------------------------------------------
    def user_type(self, type_name: str) -> dict[str, Any]:
        types = self.schema.get("types", {})
        if type_name not in types:
            raise UnsupportedSchema(f"unknown type {type_name!r}")
        return dict(types[type_name])

    def read_type(self, spec: dict[str, Any], scope: str, indent: int, path: str) -> None:
        for key in spec:
            if key not in ("seq", "instances", "doc", "meta", "types", "enums", "doc-ref"):
                raise UnsupportedSchema(f"{path}: key {key!r}")
        instances = spec.get("instances", {})
        for name, instance in instances.items():  # pos instances first: the seq may use them
            if "pos" in instance:
                self.pos_instance(name, instance, scope, indent, path)
        for attribute in spec.get("seq", []):
            self.attribute(attribute, scope, indent, path)
        for name, instance in instances.items():
            if "value" in instance:
                target = self.leaf(scope + name)
                self.emit(indent, f"{target} = {self.expression(instance['value'], scope)}")
            elif "pos" not in instance:
                raise UnsupportedSchema(f"{path}/instances/{name}: only pos and value instances")

    def pos_instance(
        self, name: str, instance: dict[str, Any], scope: str, indent: int, path: str
    ) -> None:
        if instance.get("type") != "u1" or set(instance) - {"pos", "type", "doc"}:
            raise UnsupportedSchema(f"{path}/instances/{name}: only `pos` + `type: u1`")
        target = self.leaf(scope + name)
        offset = self.expression(instance["pos"], scope)
        self.emit(indent, f"if {offset} >= _size:")
        self.emit(indent + 1, f"raise EndOfData({path + '/instances/' + name!r})")
        self.emit(indent, f"{target} = data[{offset}]")

    def attribute(self, attribute: dict[str, Any], scope: str, indent: int, path: str) -> None:
        known = {
            "id",
            "type",
            "size",
            "size-eos",
            "repeat",
            "repeat-expr",
            "if",
            "valid",
            "enum",
            "doc",
        }
        unknown = set(attribute) - known
        name = attribute["id"]
        where = f"{path}/seq/{name}"
        if unknown:
            raise UnsupportedSchema(f"{where}: keys {sorted(unknown)}")
        target = scope + name
        if "if" in attribute:
            self.emit(indent, f"if {self.expression(attribute['if'], scope)}:")
            indent += 1
        kind = attribute.get("type")
        if isinstance(kind, dict):
            self.switch(kind, target, scope, indent, where)
        elif isinstance(kind, str) and _BITS.match(kind) and "repeat" in attribute:
            self.repeated_bytes(attribute, target, scope, indent, where)
        elif isinstance(kind, str) and _BITS.match(kind):
            self.bits(int(kind[1:]), self.leaf(target), indent, where)
        elif kind == "u1":
            self.align(indent)
            self.bits(8, self.leaf(target), indent, where)
        elif isinstance(kind, str):
            self.read_type(self.user_type(kind), target + "__", indent, where)
        elif "size" in attribute or attribute.get("size-eos"):
            self.byte_field(attribute, self.leaf(target), scope, indent, where)
        else:
            raise UnsupportedSchema(f"{where}: no type and no size")
        if "valid" in attribute:
            self.valid(attribute["valid"], target, scope, indent, where)

    def bits(self, width: int, target: str, indent: int, where: str) -> None:
        self.emit(indent, f"_end = _pos + {width}")
        self.emit(indent, "if _end > _limit:")
        self.emit(indent + 1, f"raise EndOfData({where!r})")
        value = '(int.from_bytes(data[_pos >> 3:(_end + 7) >> 3], "big") >> (-_end & 7))'
        if width == 1:
            self.emit(indent, f"{target} = {value} & 1 == 1")
        else:
            self.emit(indent, f"{target} = {value} & {(1 << width) - 1:#x}")
        self.emit(indent, "_pos = _end")

    def align(self, indent: int) -> None:
        self.emit(indent, "_pos = (_pos + 7) & -8")

    def byte_field(
        self, attribute: dict[str, Any], target: str, scope: str, indent: int, where: str
    ) -> None:
        self.align(indent)
        if attribute.get("size-eos"):
            self.emit(indent, f"{target} = data[_pos >> 3:]")
            self.emit(indent, "_pos = _limit")
            return
        self.emit(indent, f"_end = _pos + 8 * ({self.expression(attribute['size'], scope)})")
        self.emit(indent, "if _end > _limit:")
        self.emit(indent + 1, f"raise EndOfData({where!r})")
        self.emit(indent, f"{target} = data[_pos >> 3:_end >> 3]")
        self.emit(indent, "_pos = _end")

    def repeated_bytes(
        self, attribute: dict[str, Any], target: str, scope: str, indent: int, where: str
    ) -> None:
        if attribute.get("type") != "b8" or attribute.get("repeat") != "expr":
            raise UnsupportedSchema(f"{where}: only `repeat: expr` of b8 (read as bytes)")
        self.leaf(target)
        self.emit(indent, f"_count = {self.expression(attribute['repeat-expr'], scope)}")
        self.emit(indent, "_end = _pos + 8 * _count")
        self.emit(indent, "if _end > _limit:")
        self.emit(indent + 1, f"raise EndOfData({where!r})")
        self.emit(
            indent,
            f'{target} = ((int.from_bytes(data[_pos >> 3:(_end + 7) >> 3], "big") >> (-_end & 7))'
            ' & ((1 << 8 * _count) - 1)).to_bytes(_count, "big")',
        )
        self.emit(indent, "_pos = _end")

    def switch(
        self, kind: dict[str, Any], target: str, scope: str, indent: int, where: str
    ) -> None:
        if set(kind) != {"switch-on", "cases"}:
            raise UnsupportedSchema(f"{where}: switch needs exactly switch-on and cases")
        self.emit(indent, f"_on = {self.expression(kind['switch-on'], scope)}")
        chosen = self.leaf(target + "__type")
        keyword = "if"
        for case, type_name in kind["cases"].items():
            if not isinstance(type_name, str) or (
                type_name.startswith(("b", "u", "s")) and type_name[1:].isdigit()
            ):
                raise UnsupportedSchema(f"{where}: switch cases must be user types")
            self.emit(indent, f"{keyword} _on == {self.expression(case, scope)}:")
            self.emit(indent + 1, f"{chosen} = {type_name!r}")
            self.read_type(
                self.user_type(type_name), target + "__", indent + 1, f"{where}/{type_name}"
            )
            keyword = "elif"

    def valid(self, valid: Any, target: str, scope: str, indent: int, where: str) -> None:
        if isinstance(valid, dict):
            raise UnsupportedSchema(f"{where}: only scalar `valid` values")
        expected = self.expression(valid, scope)
        self.emit(indent, f"if {target} != {expected}:")
        self.emit(indent + 1, f"raise ValidationFailed({where!r}, {expected}, {target})")


def generate_reader(schema: dict[str, Any]) -> str:
    """Python source of a reader module for one parsed .ksy document."""
    meta = schema.get("meta", {})
    if meta.get("bit-endian", "be") != "be":
        raise UnsupportedSchema("only big-endian bit fields")
    identifier = meta["id"]
    writer = _Writer(schema)
    writer.read_type({k: v for k, v in schema.items() if k in ("seq", "instances")}, "", 1, "")
    leaves = writer.leaves
    enums = schema.get("enums", {})
    out = [
        f'"""Reader for {meta.get("title", identifier)}, generated from the .ksy by codegen/ksy_reader.py.',
        "",
        f"``read_{identifier}(data)`` returns a ``{_camel(identifier)}Fields`` tuple whose names are",
        "the .ksy field paths joined by ``__``; fields on branches not taken are None, and",
        "``<switch field>__type`` names the type a switch chose. Errors: EndOfData, ValidationFailed.",
        '"""',
        "",
        "from collections import namedtuple",
        "from enum import IntEnum",
        "",
        "",
        "class ParseError(Exception):",
        '    """The data does not fit the schema; ``path`` names the field."""',
        "",
        "    def __init__(self, path, message):",
        '        super().__init__(f"{path}: {message}")',
        "        self.path = path",
        "",
        "",
        "class EndOfData(ParseError):",
        '    """The data ends inside a field."""',
        "",
        "    def __init__(self, path):",
        '        super().__init__(path, "data ends inside this field")',
        "",
        "",
        "class ValidationFailed(ParseError):",
        '    """A field holds a value its `valid` rule refuses."""',
        "",
        "    def __init__(self, path, expected, actual):",
        '        super().__init__(path, f"expected {expected!r}, found {actual!r}")',
        "        self.expected = expected",
        "        self.actual = actual",
    ]
    for enum_name, members in enums.items():
        out += ["", "", f"class {_camel(enum_name)}(IntEnum):"]
        out += [f"    {member} = {value}" for value, member in members.items()]
    fields_class = f"{_camel(identifier)}Fields"
    out += ["", "", f"{fields_class} = namedtuple({fields_class!r}, {tuple(leaves)!r})", "", ""]
    out += [f"def read_{identifier}(data):", f'    """Read one {identifier} from bytes."""']
    out += ["    _size = len(data)", "    _limit = _size * 8", "    _pos = 0"]
    out += [f"    {name} = None" for name in leaves]
    out += writer.lines
    out += [f"    return {fields_class}({', '.join(leaves)})"]
    return "\n".join(out) + "\n"


def generate_reader_stub(schema: dict[str, Any]) -> str:
    """A typing stub (.pyi) for the reader module, so mypy checks its callers."""
    identifier = schema["meta"]["id"]
    writer = _Writer(schema)
    writer.read_type({k: v for k, v in schema.items() if k in ("seq", "instances")}, "", 1, "")
    fields_class = f"{_camel(identifier)}Fields"
    out = [
        "from enum import IntEnum",
        "from typing import Any, NamedTuple",
        "",
        "class ParseError(Exception):",
        "    path: str",
        "    def __init__(self, path: str, message: str) -> None: ...",
        "",
        "class EndOfData(ParseError):",
        "    def __init__(self, path: str) -> None: ...",
        "",
        "class ValidationFailed(ParseError):",
        "    expected: Any",
        "    actual: Any",
        "    def __init__(self, path: str, expected: Any, actual: Any) -> None: ...",
    ]
    for enum_name, members in schema.get("enums", {}).items():
        out += ["", f"class {_camel(enum_name)}(IntEnum):"]
        out += [f"    {member} = {value}" for value, member in members.items()]
    out += ["", f"class {fields_class}(NamedTuple):"]
    out += [f"    {name}: Any" for name in writer.leaves]
    out += ["", f"def read_{identifier}(data: bytes) -> {fields_class}: ..."]
    return "\n".join(out) + "\n"
