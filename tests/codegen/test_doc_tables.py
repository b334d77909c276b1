"""The generated tables in docs/: up to date, stale regions caught, nothing left out."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codegen import __main__ as codegen_main
from codegen import doc_tables
from codegen.doc_tables import DocError, doc_problems, find_regions, render_document, write_docs
from hivemind_client.message_types import BinaryPayloadType, HiveMessageType

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PROTOCOL = DOCS / "protocol.md"
KSY = yaml.safe_load((ROOT / "schema" / "hivemind_frame.ksy").read_text())
MESSAGE_SCHEMA = json.loads((ROOT / "schema" / "hive_message.schema.json").read_text())


def region(text: str, name: str) -> str:
    """The text inside one marked region."""
    lines = text.split("\n")
    for found, start, end in find_regions(text):
        if found == name:
            return "\n".join(lines[start:end])
    raise AssertionError(f"no region {name!r}")


def test_every_region_of_the_docs_is_up_to_date() -> None:
    assert doc_problems(DOCS) == []


def test_protocol_doc_holds_every_region() -> None:
    names = [name for name, _, _ in find_regions(PROTOCOL.read_text())]
    assert sorted(names) == sorted(doc_tables.REGIONS)


def test_a_stale_region_is_reported_with_its_file_and_name(tmp_path: Path) -> None:
    text = PROTOCOL.read_text()
    stale = text.replace("| BUS | `bus` | 1 |", "| BUS | `bus` | 7 |", 1)
    assert stale != text
    (tmp_path / "protocol.md").write_text(stale)
    problems = doc_problems(tmp_path)
    assert len(problems) == 1
    assert "protocol.md" in problems[0] and "'message-types'" in problems[0]
    assert write_docs(tmp_path) == [tmp_path / "protocol.md"]
    assert (tmp_path / "protocol.md").read_text() == text
    assert doc_problems(tmp_path) == []


def test_an_emptied_region_is_stale_and_prose_is_left_alone(tmp_path: Path) -> None:
    text = "# Title\n\nprose\n<!-- BEGIN GENERATED: binary-subtypes (python -m codegen) -->\n<!-- END GENERATED -->\nmore prose\n"
    (tmp_path / "a.md").write_text(text)
    assert doc_problems(tmp_path) == [
        f"{tmp_path / 'a.md'}: generated region 'binary-subtypes' is stale"
    ]
    write_docs(tmp_path)
    written = (tmp_path / "a.md").read_text()
    assert written.startswith("# Title\n\nprose\n") and written.endswith("\nmore prose\n")
    assert "| 6 | `TTS_AUDIO` |" in written


def test_the_check_command_fails_on_a_stale_doc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(PROTOCOL, tmp_path / "protocol.md")
    text = (tmp_path / "protocol.md").read_text()
    (tmp_path / "protocol.md").write_text(text.replace("`TTS_AUDIO`", "`TTS`", 1))
    monkeypatch.setattr(codegen_main, "DOCS_DIR", tmp_path)
    monkeypatch.setattr(codegen_main, "check_tool_versions", lambda: None)
    monkeypatch.setattr(codegen_main, "generate_all", lambda out: None)
    monkeypatch.setattr(codegen_main, "compare", lambda fresh, committed: [])
    assert codegen_main.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "protocol.md: generated region 'binary-subtypes' is stale" in err


@pytest.mark.parametrize(
    "text, why",
    [
        (
            "<!-- BEGIN GENERATED: nonsense (python -m codegen) -->\n<!-- END GENERATED -->\n",
            "unknown region",
        ),
        ("<!-- BEGIN GENERATED: message-types (python -m codegen) -->\n", "no <!-- END"),
        ("<!-- END GENERATED -->\n", "without a BEGIN"),
    ],
)
def test_malformed_markers_are_refused(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(DocError, match=why):
        render_document(text)
    (tmp_path / "bad.md").write_text(text)
    assert why in doc_problems(tmp_path)[0]


def test_every_ksy_message_type_is_in_the_table() -> None:
    table = region(PROTOCOL.read_text(), "message-types")
    rows = {
        match[1]: (match[2], match[3])
        for match in re.finditer(r"^\| (\w+) \| `([^`]+)` \| ([^|]+) \|", table, re.MULTILINE)
    }
    for code, name in KSY["enums"]["message_type"].items():
        member = HiveMessageType[name.upper()]
        assert rows[name.upper()] == (member.value, str(code))
    assert set(rows) == {member.name for member in HiveMessageType}
    assert rows["INTERCOM"][1].startswith("none")


def test_every_binary_subtype_is_in_the_table() -> None:
    table = region(PROTOCOL.read_text(), "binary-subtypes")
    for member in BinaryPayloadType:
        assert f"| {member.value} | `{member.name}` |" in table


def test_every_frame_field_is_in_the_layout() -> None:
    table = region(PROTOCOL.read_text(), "frame-layout")
    for type_name in ("header", "unpadded_body", "padded_body"):
        for field in KSY["types"][type_name]["seq"]:
            assert f".{field['id']}`" in table, field["id"]
    assert "`padding` | 4 |" in table
    assert "`header.type_code` | 5 | enum `message_type`" in table


def test_every_payload_definition_is_in_the_docs() -> None:
    table = region(PROTOCOL.read_text(), "payload-fields")
    for name, definition in MESSAGE_SCHEMA["$defs"].items():
        assert f"#### `{name}`" in table
        for field in definition.get("properties", {}):
            section = table.split(f"#### `{name}`", 1)[1].split("#### ", 1)[0]
            required = "yes" if field in definition.get("required", []) else "no"
            assert re.search(
                rf"^\| `{re.escape(field)}` \| .* \| {required} \|", section, re.MULTILINE
            ), (name, field)


def test_codegen_reports_a_missing_node_in_one_line(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PATH"}
    env["PATH"] = str(tmp_path)  # an empty directory: no node
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "node" in lines[0] and "Traceback" not in result.stderr
