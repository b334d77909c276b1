"""hivemind_client.compat: the import mapping is opt-in, never shadows a real package unless
forced, and ``python -m hivemind_client.compat`` runs modules and console scripts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hivemind_client import compat
from hivemind_client.errors import InvalidKeySize, UnknownMessageType

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mapped():  # type: ignore[no-untyped-def]
    assert compat.install() is True
    yield
    compat.uninstall()


def test_nothing_is_mapped_until_install() -> None:
    compat.uninstall()
    assert not compat.installed()
    with pytest.raises(ImportError):
        __import__("hivemind_bus_client")


def test_install_maps_the_reference_modules(mapped: None) -> None:
    from hivemind_bus_client.encryption import decrypt_bin, encrypt_bin
    from hivemind_bus_client.exceptions import InvalidKeySize as RefInvalidKeySize
    from hivemind_bus_client.message import HiveMessage, HiveMessageType
    from hivemind_bus_client.serialization import decode_bitstring, get_bitstring

    assert compat.installed()
    message = HiveMessage(HiveMessageType.BUS, {"type": "speak", "data": {}, "context": {}})
    assert decode_bitstring(get_bitstring(HiveMessageType.BUS, message)).payload.msg_type == "speak"
    key = bytes(32)
    assert decrypt_bin(key, encrypt_bin(key, "x", "AES-GCM"), "AES-GCM") == b"x"
    assert RefInvalidKeySize is InvalidKeySize
    with pytest.raises(ValueError) as caught:  # the reference's callers catch ValueError
        HiveMessage("nope")
    assert isinstance(caught.value, UnknownMessageType)


def test_a_real_package_is_not_shadowed_unless_forced(tmp_path: Path) -> None:
    real = tmp_path / "hivemind_bus_client"
    real.mkdir()
    (real / "__init__.py").write_text("REAL = True\n")
    script = textwrap.dedent(
        """
        import sys
        from hivemind_client import compat
        assert compat.install() is False
        import hivemind_bus_client
        assert hivemind_bus_client.REAL
        assert compat.install(force=True) is True
        import hivemind_bus_client
        assert not hasattr(hivemind_bus_client, "REAL")
        from hivemind_bus_client.message import HiveMessage
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_python_m_compat_runs_a_module(tmp_path: Path) -> None:
    (tmp_path / "legacy_app.py").write_text(
        "import sys\nfrom hivemind_bus_client.message import HiveMessageType\n"
        "print(HiveMessageType.BUS.value, sys.argv[1:])\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "hivemind_client.compat", "legacy_app", "a", "b"],
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "bus ['a', 'b']"


def test_python_m_compat_refuses_an_unknown_target() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hivemind_client.compat", "no-such-thing-anywhere"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no console script or module" in result.stderr


def test_get_bitstring_takes_the_reference_payload_shapes(mapped: None) -> None:
    from hivemind_bus_client.message import HiveMessageType, MalformedWirePayload
    from hivemind_bus_client.serialization import decode_bitstring, get_bitstring

    as_text = get_bitstring(HiveMessageType.BUS, '{"type": "speak"}', compressed=False)
    as_dict = get_bitstring(HiveMessageType.BUS, {"type": "speak"}, compressed=False)
    assert bytes(getattr(as_text, "bytes", as_text)) == bytes(getattr(as_dict, "bytes", as_dict))
    for bad in ("not json {", "[1, 2]", ["a"], 7):
        with pytest.raises(MalformedWirePayload):
            get_bitstring(HiveMessageType.BUS, bad, compressed=False)
    with pytest.raises(MalformedWirePayload, match="opaque byte string"):
        get_bitstring(HiveMessageType.BINARY, {"a": 1})

    class Bits:  # what bitstring's Bits offers the adapter
        def tobytes(self) -> bytes:
            return b"ab"

    assert decode_bitstring(get_bitstring(HiveMessageType.BINARY, Bits())).payload == b"ab"


def test_util_keeps_the_old_aes_helpers_deprecated(mapped: None) -> None:
    from hivemind_bus_client import util

    key = "k" * 16
    for b64 in (False, True):
        with pytest.warns(DeprecationWarning, match="deprecated"):
            sealed = util.encrypt_as_json(key, "hi", b64=b64)
        with pytest.warns(DeprecationWarning):
            assert util.decrypt_from_json(key, sealed) == "hi"
    with pytest.warns(DeprecationWarning):
        blob = util.encrypt_bin(key, b"x")
    with pytest.warns(DeprecationWarning):
        assert util.decrypt_bin(key, blob) == b"x"
    bus = util.get_mycroft_msg({"type": "speak", "data": {"a": 1}})
    assert bus.msg_type == "speak" and bus.data == {"a": 1}
