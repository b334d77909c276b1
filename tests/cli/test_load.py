"""``hivemind-client load`` without a hub: its key file, its options, its summary."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hivemind_client.cli.load import LoadReport, format_table, read_credentials
from hivemind_client.cli.main import main
from hivemind_client.cli.support import CliError


def test_the_key_file_is_pairs_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("# a comment\n\nkey-one pass-one\n  key-two   pass-two  # trailing\n")
    assert read_credentials(str(path)) == [("key-one", "pass-one"), ("key-two", "pass-two")]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("only-a-key\n", "keys.txt:1: expected 'KEY PASSWORD', found 1 words"),
        ("a b\nx y z\n", "keys.txt:2: expected 'KEY PASSWORD', found 3 words"),
        ("# nothing\n\n", "holds no 'KEY PASSWORD' line"),
    ],
)
def test_a_bad_key_file_is_one_clear_error(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "keys.txt"
    path.write_text(text)
    with pytest.raises(CliError, match=error.replace("(", r"\(")):
        read_credentials(str(path))


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="cannot read"):
        read_credentials(str(tmp_path / "absent.txt"))


@pytest.mark.parametrize(
    "option", [["--sessions", "0"], ["--sessions", "many"], ["--rate", "-1"], ["--rate", "x"]]
)
def test_out_of_range_options_are_usage_errors(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load", "--host", "127.0.0.1", "--key", "k", "--password", "p", *option]) == 2
    assert "error:" in capsys.readouterr().err


def test_the_summary_reports_rates_percentiles_and_failures() -> None:
    report = LoadReport(
        sessions=4,
        connected=3,
        connect_seconds=1.5,
        connect_times=[0.1, 0.2, 0.3],
        failures=Counter({"connection-failed: refused": 1}),
        sent=6,
        answers=6,
        traffic_seconds=2.0,
        round_trips=[0.010, 0.020, 0.030, 0.040, 0.050, 0.060],
        traffic_cpu_seconds=0.006,
        rss_before=1_000_000,
        rss_connected=1_000_000 + 3 * 2048,
        protocols=Counter({"v3 noise-KKpsk0": 2, "v3 noise-XXpsk2": 1}),
    )
    table = dict(line.split("  ", 1) for line in format_table(report).splitlines())
    table = {name.strip(): value.strip() for name, value in table.items()}
    assert table["sessions connected"] == "3 of 4"
    assert table["connect rate"] == "2.0 sessions/s"
    assert table["answers per second"] == "3.0 /s"
    assert table["round trip p50 / p99"] == "30.0 ms / 60.0 ms"
    assert table["client CPU per message"] == "1.000 ms"
    assert table["RSS per session"] == "2.0 KiB"
    assert table["failed: connection-failed: refused"] == "1"
    assert report.as_json()["failures"] == {"connection-failed: refused": 1}
