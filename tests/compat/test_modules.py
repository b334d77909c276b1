"""hivemind_client.compat module by module: the reference's call shapes reach this library's
Noise framework, identity and helpers (the reference's own suite, scripts/reference_suite.py,
covers the rest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hivemind_client import compat
from hivemind_client.errors import AuthenticationFailed, HandshakeFailed


@pytest.fixture
def ref() -> Iterator[Any]:
    assert compat.install() is True
    import hivemind_bus_client

    yield hivemind_bus_client
    compat.uninstall()


def _noise_pair(noise: Any, password_b: str = "pw") -> tuple[Any, Any]:
    name = noise.noise_protocol_name(noise.NOISE_PATTERN_XX, noise.NOISE_SUITE_CHACHA)
    prologue = noise.build_prologue({"node_id": "hub"}, {"max_protocol_version": 3}, name)
    common = {"pattern": noise.NOISE_PATTERN_XX, "suite": noise.NOISE_SUITE_CHACHA,
              "node_id": "hub", "prologue": prologue}
    alice = noise.start_noise_handshake(initiator=True, password="pw", **common)
    bob = noise.start_noise_handshake(initiator=False, password=password_b, **common)
    bob.read_message(alice.write_message(b""))
    alice.read_message(bob.write_message(b""))
    bob.read_message(alice.write_message(b""))
    return noise.NoiseTransport(alice), noise.NoiseTransport(bob)


def test_noise_handshake_and_transport_both_ways(ref: Any) -> None:
    from hivemind_bus_client import noise

    alice, bob = _noise_pair(noise)
    assert alice.remote_static_key and bob.remote_static_key
    assert bob.decrypt_frame(alice.encrypt_frame('{"msg_type": "bus"}')) == '{"msg_type": "bus"}'
    wire: list[bytes] = []
    bob.send_message(b"b" * 200_000, wire.append)  # chunked
    assert len(wire) == 4
    assert [alice.decrypt_frame(frame) for frame in wire][-1] == b"b" * 200_000


def test_noise_failures_are_the_reference_names(ref: Any) -> None:
    from hivemind_bus_client import noise

    assert noise.NoiseTransportFailed is AuthenticationFailed
    alice, bob = _noise_pair(noise)
    frame = alice.encrypt_frame("one")
    bob.decrypt_frame(frame)
    with pytest.raises(noise.NoiseTransportFailed):  # a replay
        bob.decrypt_frame(frame)
    with pytest.raises(noise.NoiseTransportFailed):
        alice.encrypt_frame("x" * 70_000)  # one frame only: send_message chunks
    with pytest.raises(AuthenticationFailed):  # another password: another PSK
        _noise_pair(noise, password_b="other")
    with pytest.raises(HandshakeFailed):
        noise.start_noise_handshake(True, noise.NOISE_PATTERN_XX, noise.NOISE_SUITE_CHACHA,
                                    None, "hub", b"", psk=b"short")


def test_identity_file_is_a_view_of_the_fields(ref: Any, tmp_path: Path) -> None:
    from hivemind_bus_client.identity import NodeIdentity

    identity = NodeIdentity(identity_file=str(tmp_path / "_identity.json"))
    identity.IDENTITY_FILE["name"] = "kitchen"
    identity.IDENTITY_FILE.store()
    assert NodeIdentity(identity_file=str(tmp_path / "_identity.json")).name == "kitchen"
    assert identity.IDENTITY_FILE.path == str(tmp_path / "_identity.json")


def test_an_assigned_identity_file_holds_the_fields(ref: Any) -> None:
    from hivemind_bus_client.identity import NodeIdentity

    class Store(dict[str, Any]):
        path = "/nonexistent/_identity.json"
        stored = 0

        def store(self) -> None:
            self.stored += 1

        def reload(self) -> None:
            pass

    identity = NodeIdentity.__new__(NodeIdentity)
    identity.IDENTITY_FILE = store = Store(key="/keys/living-room")
    assert identity.name == "living-room"
    identity.site_id = "kitchen"
    assert store["site_id"] == "kitchen"
    identity.save()
    assert store.stored == 1


def test_the_fake_bus_records_and_dispatches(ref: Any) -> None:
    import asyncio

    from hivemind_bus_client.fakebus import AsyncFakeHiveMessageBus
    from hivemind_bus_client.message import HiveMessage, HiveMessageType

    from hivemind_client.wire.message import Message

    async def scenario() -> tuple[list[Any], Any]:
        bus = AsyncFakeHiveMessageBus(site_id="kitchen")
        await bus.connect()
        seen: list[Any] = []
        bus.on("speak", seen.append)
        bus.once(HiveMessageType.PING, seen.append)
        await bus.emit(Message("speak", {"utterance": "hi"}))
        await bus.emit(HiveMessage(HiveMessageType.PING, {"flood_id": "a"}))
        await bus.emit(HiveMessage(HiveMessageType.PING, {"flood_id": "b"}))
        none = await bus.wait_for_message(HiveMessageType.CASCADE, timeout=0.01)
        assert none is None
        return seen, bus

    seen, bus = asyncio.run(scenario())
    assert [getattr(m, "msg_type", None) for m in seen] == ["speak", HiveMessageType.PING]
    assert seen[0].context["session"]["site_id"] == "kitchen"
    assert len(bus.emitted) == 3


def test_the_flood_id_cache_is_timed_and_item_readable(ref: Any) -> None:
    from hivemind_bus_client.hive_map import FloodIdCache, HiveMapper

    mapper = HiveMapper()
    assert mapper.check_flood_id("abc") is False and mapper.check_flood_id("abc") is True
    assert isinstance(mapper._seen_flood_ids["abc"], float)
    with pytest.raises(KeyError):
        FloodIdCache()["nothing"]
    mapper.clear()
    assert mapper.check_flood_id("abc") is False


def test_the_psk_cache_size_bound_is_read_on_each_call(
    ref: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hivemind_bus_client import noise

    key_path = str(tmp_path / "noise_key")
    noise.save_cached_psk(key_path, "hub", bytes(range(32)))
    assert noise.load_cached_psk(key_path, "hub") == bytes(range(32))
    monkeypatch.setattr(noise, "_MAX_CACHE_BYTES", 1)
    assert noise.load_cached_psk(key_path, "hub") is None


def test_a_handshake_creates_the_static_key_and_its_directory(ref: Any, tmp_path: Path) -> None:
    from hivemind_bus_client import noise

    key_path = tmp_path / "not" / "yet" / "noise_key"
    noise.start_noise_handshake(
        initiator=False, pattern=noise.NOISE_PATTERN_XX, suite=noise.NOISE_SUITE_CHACHA,
        password="pw", node_id="hub", prologue=b"", key_path=str(key_path),
    )
    assert len(bytes.fromhex(key_path.read_text())) == 32


def test_the_compat_identity_finds_its_file_as_the_library_does(
    ref: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One rule for where an identity lives: a relative XDG_CONFIG_HOME is ignored (the XDG
    spec), so the compat NodeIdentity and the library's read the same file."""
    from hivemind_bus_client.identity import NodeIdentity as CompatIdentity

    from hivemind_client.identity import default_identity_path

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    expected = tmp_path / ".config" / "hivemind" / "_identity.json"
    assert default_identity_path() == expected
    assert CompatIdentity().path == expected
    assert CompatIdentity(app_name="radio").path == expected.parent / "radio" / expected.name
