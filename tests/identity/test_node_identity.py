"""NodeIdentity: location, reference file format, atomic 0600 writes, keys, trust, pins, PSKs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import textwrap
from functools import cache
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from hivemind_client.errors import HiveMindError, InvalidArgument, LocalError
from hivemind_client.identity import (
    DEFAULT_KEY_FILENAME,
    IdentityError,
    NodeIdentity,
    default_identity_path,
    noise_static_key,
    normalize_public_key,
    public_key_fingerprint,
)

ROOT = Path(__file__).resolve().parents[2]
REF_07 = ROOT / ".venvs" / "ref-0.7" / "bin" / "python"
REF_12 = ROOT / ".venvs" / "ref-1.2" / "bin" / "python"


@cache
def _peer_public_keys() -> tuple[str, str]:
    """Two real RSA-2048 public keys, generated once per session."""
    return tuple(  # type: ignore[return-value]
        RSA.generate(2048).public_key().export_key().decode() for _ in range(2)
    )


@pytest.fixture(scope="session")
def peer_keys() -> tuple[str, str]:
    return _peer_public_keys()


@pytest.fixture(scope="session")
def keyed_identity_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An identity directory with a key pair, generated once and copied by tests that need it."""
    directory = tmp_path_factory.mktemp("keyed") / "hivemind"
    identity = NodeIdentity(directory / "_identity.json")
    identity.name = "keyed"
    identity.save()
    identity.ensure_keys()
    return directory


def _copy_identity(source: Path, target: Path) -> NodeIdentity:
    target.mkdir(parents=True)
    data = json.loads((source / "_identity.json").read_text())
    key = target / DEFAULT_KEY_FILENAME
    key.write_bytes((source / DEFAULT_KEY_FILENAME).read_bytes())
    key.chmod(0o600)
    data["secret_key"] = str(key)
    (target / "_identity.json").write_text(json.dumps(data))
    return NodeIdentity(target / "_identity.json")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _run_reference(python: Path, config_home: Path, code: str) -> str:
    if not python.exists():
        pytest.skip(f"{python} is not installed")
    env = dict(os.environ, XDG_CONFIG_HOME=str(config_home), HOME=str(config_home))
    result = subprocess.run(
        [str(python), "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"reference client failed:\n{result.stderr[-2000:]}")
    return result.stdout


# -- location ---------------------------------------------------------------------------------
def test_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_identity_path() == tmp_path / "hivemind" / "_identity.json"
    assert NodeIdentity().path == tmp_path / "hivemind" / "_identity.json"


def test_default_path_without_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_identity_path() == tmp_path / ".config" / "hivemind" / "_identity.json"
    # a relative XDG_CONFIG_HOME is invalid per the spec and ignored
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    assert default_identity_path() == tmp_path / ".config" / "hivemind" / "_identity.json"


def test_missing_file_is_an_empty_identity_and_is_not_created(tmp_path: Path) -> None:
    identity = NodeIdentity(tmp_path / "hm" / "_identity.json")
    assert identity.name == "unnamed-node"
    assert identity.access_key is None and identity.password is None
    assert identity.trusted_keys == {} and identity.pinned_hubs == {}
    assert not identity.path.exists()


# -- plain fields, atomic writes, modes -------------------------------------------------------
def test_fields_round_trip_and_file_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "hivemind" / "_identity.json"
    identity = NodeIdentity(path)
    identity.name = "kitchen-sat"
    identity.access_key = "ak"
    identity.password = "pw"
    identity.site_id = "kitchen"
    identity.default_master = "ws://10.0.0.1"
    identity.default_port = 5678
    identity.save()
    assert _mode(path) == 0o600
    assert _mode(path.parent) & 0o077 == 0
    again = NodeIdentity(path)
    assert (again.name, again.access_key, again.password, again.site_id) == (
        "kitchen-sat",
        "ak",
        "pw",
        "kitchen",
    )
    assert (again.default_master, again.default_port) == ("ws://10.0.0.1", 5678)
    assert (again.host, again.port) == ("ws://10.0.0.1", 5678)
    on_disk = json.loads(path.read_text())
    assert on_disk["access_key"] == "ak" and on_disk["default_port"] == 5678


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "_identity.json"
    path.write_text('{"name": "old", "custom_field": [1, 2]}')
    path.chmod(0o644)
    inode = os.stat(path).st_ino
    identity = NodeIdentity(path)
    identity.name = "new"
    identity.save()
    # replaced, not rewritten in place: a crash mid-write leaves the old file whole
    assert os.stat(path).st_ino != inode
    assert _mode(path) == 0o600
    assert json.loads(path.read_text()) == {"name": "new", "custom_field": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_identity.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "_identity.json"
    path.write_text('{"name": "old"}')
    identity = NodeIdentity(path)
    identity.name = "new"
    identity._data["unserializable"] = object()  # json.dumps raises before anything is written
    with pytest.raises(TypeError):
        identity.save()
    assert json.loads(path.read_text()) == {"name": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_identity.json"]


def test_unwritable_location_is_an_identity_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    identity = NodeIdentity(blocker / "_identity.json")
    identity.name = "x"
    blocker.write_text("")  # now the directory cannot be created (not even by root)
    with pytest.raises(IdentityError):
        identity.save()
    with pytest.raises(IdentityError):
        identity.ensure_keys()
    with pytest.raises(IdentityError):  # and reading through a file is refused, not "empty"
        NodeIdentity(blocker / "_identity.json")


def test_bad_field_values_are_refused(tmp_path: Path) -> None:
    identity = NodeIdentity(tmp_path / "_identity.json")
    with pytest.raises(InvalidArgument):
        identity.default_port = 70000
    with pytest.raises(InvalidArgument):
        identity.default_port = "5678"  # type: ignore[assignment]
    with pytest.raises(InvalidArgument):
        identity.name = 3  # type: ignore[assignment]


# -- corrupt files ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe",
        b'{"name": 3}',
        b'{"default_port": "many"}',
        b'{"trusted_keys": ["a"]}',
        b'{"pinned_noise_keys": {"h:1": 7}}',
    ],
)
def test_corrupt_file_is_an_identity_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "_identity.json"
    path.write_bytes(content)
    with pytest.raises(IdentityError) as info:
        NodeIdentity(path)
    assert info.value.code == "identity-error"
    assert isinstance(info.value, LocalError) and isinstance(info.value, HiveMindError)
    assert path.read_bytes() == content  # never "repaired" into a new identity


def test_numeric_string_port_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "_identity.json"
    path.write_text('{"default_port": "5678", "name": "n"}')
    assert NodeIdentity(path).default_port == 5678


def test_corrupt_private_key_is_an_identity_error(tmp_path: Path) -> None:
    path = tmp_path / "_identity.json"
    (tmp_path / "bad.pem").write_text(
        "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n"
    )
    path.write_text(json.dumps({"secret_key": "bad.pem"}))
    with pytest.raises(IdentityError):
        NodeIdentity(path).ensure_keys()


# -- keys ------------------------------------------------------------------------------------
def test_keys_are_created_on_demand_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "hivemind" / "_identity.json"
    identity = NodeIdentity(path)
    assert not identity.has_keys and identity.public_key is None
    private = identity.private_key_pem
    key = RSA.import_key(private)
    assert key.has_private() and key.size_in_bits() == 2048
    assert private.startswith("-----BEGIN RSA PRIVATE KEY-----")  # PKCS#1, as the reference
    public = identity.public_key_pem
    assert public.startswith("-----BEGIN PUBLIC KEY-----")
    assert RSA.import_key(public) == key.public_key()
    key_file = Path(identity.private_key)
    assert key_file == tmp_path / "hivemind" / DEFAULT_KEY_FILENAME
    assert _mode(key_file) == 0o600 and _mode(path) == 0o600
    assert identity.has_keys
    # recorded for the reference: an absolute secret_key path and the public PEM
    data = json.loads(path.read_text())
    assert data["secret_key"] == str(key_file) and data["public_key"] == public
    # a fresh instance loads the same pair without generating
    again = NodeIdentity(path)
    assert again.private_key_pem == private and again.public_key_pem == public


def test_private_key_is_never_world_readable_while_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file is created owner-only: check the mode of each temporary file as it opens."""
    seen_modes: list[int] = []
    real_fdopen = os.fdopen

    def spying_fdopen(fd: int, *args: object, **kwargs: object) -> object:
        seen_modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "fdopen", spying_fdopen)
    old_umask = os.umask(0)  # the most permissive umask must not matter
    try:
        NodeIdentity(tmp_path / "_identity.json").ensure_keys()
    finally:
        os.umask(old_umask)
    assert seen_modes and all(mode == 0o600 for mode in seen_modes)


def test_reset_keys_replaces_the_pair(keyed_identity_dir: Path, tmp_path: Path) -> None:
    identity = _copy_identity(keyed_identity_dir, tmp_path / "hm")
    old_private, old_public = identity.private_key_pem, identity.public_key_pem
    new_private = identity.reset_keys()
    assert new_private != old_private and identity.public_key_pem != old_public
    again = NodeIdentity(identity.path)
    assert again.private_key_pem == new_private
    assert RSA.import_key(again.public_key_pem) == RSA.import_key(new_private).public_key()
    assert _mode(Path(again.private_key)) == 0o600


def test_public_key_is_rederived_from_the_private_key(
    keyed_identity_dir: Path, tmp_path: Path
) -> None:
    identity = _copy_identity(keyed_identity_dir, tmp_path / "hm")
    real_public = identity.public_key_pem
    data = json.loads(identity.path.read_text())
    data["public_key"] = _peer_public_keys()[0]  # a stale or foreign public key
    identity.path.write_text(json.dumps(data))
    reloaded = NodeIdentity(identity.path)
    assert normalize_public_key(reloaded.public_key_pem) == normalize_public_key(real_public)
    assert json.loads(identity.path.read_text())["public_key"] == reloaded.public_key_pem


def test_reference_0644_private_key_is_tightened(keyed_identity_dir: Path, tmp_path: Path) -> None:
    identity = _copy_identity(keyed_identity_dir, tmp_path / "hm")
    key_file = Path(identity.private_key)
    key_file.chmod(0o644)
    NodeIdentity(identity.path).ensure_keys()
    assert _mode(key_file) == 0o600


def _identity_with_password(directory: Path) -> Path:
    """An identity file as another tool writes it: password inside, mode 0644."""
    directory.mkdir(mode=0o700)
    path = directory / "_identity.json"
    path.write_text(json.dumps({"name": "n", "access_key": "k", "password": "hunter2-secret"}))
    path.chmod(0o644)
    return path


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_identity_file_with_a_password_is_tightened_on_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _identity_with_password(tmp_path / "hm")
    identity = NodeIdentity(path)
    assert identity.password == "hunter2-secret"
    assert _mode(path) == 0o600
    assert any("owner-only" in line for line in _warnings(caplog))
    assert all("hunter2-secret" not in line for line in _warnings(caplog))


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722], ids=lambda mode: f"{mode:04o}")
def test_a_directory_others_can_write_is_made_0700_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int
) -> None:
    path = _identity_with_password(tmp_path / "hm")
    path.parent.chmod(mode)
    NodeIdentity(path)
    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o600
    said = [line for line in _warnings(caplog) if "now 0700" in line]
    assert len(said) == 1 and f"mode {mode:04o}" in said[0]
    caplog.clear()
    NodeIdentity(path).reload()
    assert _warnings(caplog) == []


def test_a_readable_but_not_writable_directory_is_left_alone(tmp_path: Path) -> None:
    path = _identity_with_password(tmp_path / "hm")
    path.parent.chmod(0o755)
    NodeIdentity(path)
    assert _mode(path.parent) == 0o755


def test_a_directory_others_can_write_that_is_not_ours_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _identity_with_password(tmp_path / "hm")
    path.parent.chmod(0o777)
    someone_else = path.parent.stat().st_uid + 1
    monkeypatch.setattr(os, "geteuid", lambda: someone_else)
    with pytest.raises(IdentityError, match="other users and belongs to someone else"):
        NodeIdentity(path)
    assert _mode(path.parent) == 0o777  # not ours to change
    assert _mode(path) == 0o644  # and nothing in it was read


def test_a_shared_sticky_directory_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = _identity_with_password(tmp_path / "hm")
    path.parent.chmod(0o1777)  # ours, like /tmp is root's: tightening it would break others
    with pytest.raises(IdentityError, match="is shared"):
        NodeIdentity(path)
    assert _mode(path.parent) == 0o1777


def test_a_directory_whose_mode_cannot_be_fixed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _identity_with_password(tmp_path / "hm")
    path.parent.chmod(0o777)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", refuse)
    with pytest.raises(IdentityError, match="could not be changed"):
        NodeIdentity(path)


def test_relative_and_moved_key_paths_resolve(keyed_identity_dir: Path, tmp_path: Path) -> None:
    identity = _copy_identity(keyed_identity_dir, tmp_path / "hm")
    private = identity.private_key_pem
    data = json.loads(identity.path.read_text())
    data["secret_key"] = DEFAULT_KEY_FILENAME  # relative: against the identity directory (1.x)
    identity.path.write_text(json.dumps(data))
    assert NodeIdentity(identity.path).private_key_pem == private
    data["secret_key"] = "/nonexistent/home/.config/hivemind/" + DEFAULT_KEY_FILENAME
    identity.path.write_text(json.dumps(data))  # copied from another user's home
    assert NodeIdentity(identity.path).private_key_pem == private


def test_missing_foreign_key_path_regenerates_beside_the_identity(tmp_path: Path) -> None:
    path = tmp_path / "hm" / "_identity.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"secret_key": "/nonexistent/home/.config/hivemind/key.pem"}))
    identity = NodeIdentity(path)
    identity.ensure_keys()
    assert Path(identity.private_key) == path.parent / DEFAULT_KEY_FILENAME
    assert _mode(path.parent / DEFAULT_KEY_FILENAME) == 0o600


def test_inline_private_key_is_accepted(keyed_identity_dir: Path, tmp_path: Path) -> None:
    source = _copy_identity(keyed_identity_dir, tmp_path / "a")
    private = source.private_key_pem
    path = tmp_path / "b" / "_identity.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"secret_key": private}))
    identity = NodeIdentity(path)
    assert identity.has_keys and identity.private_key_pem == private
    assert RSA.import_key(identity.public_key_pem) == RSA.import_key(private).public_key()


def test_repr_shows_no_secret(keyed_identity_dir: Path, tmp_path: Path) -> None:
    identity = _copy_identity(keyed_identity_dir, tmp_path / "hm")
    identity.password = "hunter2-password"
    identity.access_key = "access-key-123"
    identity.cache_psk("hub", "access-key-123", "ab" * 32)
    text = repr(identity)
    for secret in ("hunter2-password", "access-key-123", "ab" * 32, "PRIVATE", "PUBLIC KEY"):
        assert secret not in text
    assert "has_password=True" in text


def test_nothing_secret_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    path = tmp_path / "_identity.json"
    path.write_text(
        json.dumps(
            {
                "password": "pw-secret",
                "access_key": "ak-secret",
                "public_key": _peer_public_keys()[0],
            }
        )
    )
    identity = NodeIdentity(path)
    private = identity.private_key_pem  # logs the "public key without private key" warning
    Path(identity.private_key).chmod(0o640)
    NodeIdentity(path).ensure_keys()  # logs the mode fix
    assert caplog.records
    for secret in ("pw-secret", "ak-secret", private.splitlines()[1]):
        assert secret not in caplog.text


# -- Noise static key, pins, PSK cache ----------------------------------------------------------
def test_noise_key_created_once_0600(tmp_path: Path) -> None:
    identity = NodeIdentity(tmp_path / "_identity.json")
    key = identity.noise_private_key()
    assert len(key) == 32
    assert _mode(identity.noise_key_path) == 0o600
    assert identity.noise_key_path.read_text() == key.hex()
    assert NodeIdentity(identity.path).noise_private_key() == key
    identity.noise_key_path.write_text("zz")
    with pytest.raises(IdentityError):
        NodeIdentity(identity.path).noise_private_key()


def test_pinned_hub_keys(tmp_path: Path) -> None:
    identity = NodeIdentity(tmp_path / "_identity.json")
    key = "AB" * 32
    identity.pin_hub("hub.local:5678", key)
    assert identity.pinned_hub("hub.local:5678") == key.lower()
    assert identity.pinned_hub("other:5678") is None
    again = NodeIdentity(identity.path)  # saved at once
    assert again.pinned_hubs == {"hub.local:5678": key.lower()}
    assert json.loads(identity.path.read_text())["pinned_noise_keys"] == {
        "hub.local:5678": key.lower()
    }
    assert again.forget_hub("hub.local:5678") is True
    assert again.forget_hub("hub.local:5678") is False
    assert NodeIdentity(identity.path).pinned_hub("hub.local:5678") is None
    for bad in ("abc", "zz" * 32, "ab" * 33):
        with pytest.raises(InvalidArgument):
            identity.pin_hub("h:1", bad)
    with pytest.raises(InvalidArgument):
        identity.pin_hub("", key)


def test_psk_cache(tmp_path: Path) -> None:
    identity = NodeIdentity(tmp_path / "hm" / "_identity.json")
    psk = "0f" * 32
    assert identity.cached_psk("node-1", "ak") is None
    assert identity.cache_psk("node-1", "ak", psk) is True
    assert identity.cached_psk("node-1", "ak") == psk
    assert identity.cached_psk("node-1", "other-ak") is None  # scoped by access key
    assert identity.cached_psk("node-2", "ak") is None
    path = identity.psk_cache_path
    assert path.parent == identity.directory and path.name.endswith("_psks.json")
    assert _mode(path) == 0o600
    assert psk in path.read_text() and '"ak@' not in path.read_text()
    # a cache others can read is treated as exposed
    path.chmod(0o644)
    assert identity.cached_psk("node-1", "ak") is None
    path.chmod(0o600)
    assert identity.forget_psk("node-1", "ak") is True
    assert identity.cached_psk("node-1", "ak") is None
    with pytest.raises(InvalidArgument):
        identity.cache_psk("node-1", "ak", "short")
    assert identity.cache_psk("x" * 600, "ak", psk) is False  # longer than any honest node id
    identity.clear_psks()
    assert not path.exists()


def test_psk_cache_is_bounded_newest_kept(tmp_path: Path) -> None:
    identity = NodeIdentity(tmp_path / "_identity.json")
    for index in range(40):
        identity.cache_psk(f"node-{index}", None, f"{index:064x}")
    assert identity.cached_psk("node-0", None) is None
    assert identity.cached_psk("node-39", None) == f"{39:064x}"
    assert len(json.loads(identity.psk_cache_path.read_text())) == 32


# -- trusted keys ------------------------------------------------------------------------------
def test_trust_untrust_alias(tmp_path: Path, peer_keys: tuple[str, str]) -> None:
    first, second = peer_keys
    identity = NodeIdentity(tmp_path / "_identity.json")
    assert not identity.is_trusted(first)
    alias = identity.trust(first)
    assert alias == public_key_fingerprint(first) and alias.startswith("key:")
    assert identity.is_trusted(first) and identity.alias_of(first) == alias
    # line endings and surrounding whitespace do not matter
    assert identity.is_trusted("  " + first.replace("\n", "\r\n") + "\n\n")
    assert identity.trust(second, "living-room") == "living-room"
    assert NodeIdentity(identity.path).trusted_keys.keys() == {alias, "living-room"}  # saved
    # re-trusting under a new alias renames
    assert identity.trust(first, "kitchen") == "kitchen"
    assert identity.alias_of(first) == "kitchen" and alias not in identity.trusted_keys
    with pytest.raises(InvalidArgument):
        identity.trust(first, "living-room")  # alias names another key
    assert identity.untrust("living-room") is True
    assert identity.untrust(first) is True
    assert identity.untrust(first) is False
    assert identity.trusted_keys == {} and not identity.is_trusted(second)


def test_trust_refuses_non_keys_and_private_keys(keyed_identity_dir: Path, tmp_path: Path) -> None:
    identity = _copy_identity(keyed_identity_dir, tmp_path / "hm")
    for bad in ("not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", 7):
        with pytest.raises(InvalidArgument):
            identity.trust(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        identity.trust(identity.private_key_pem)
    assert identity.trusted_keys == {}


def test_reference_method_names(tmp_path: Path, peer_keys: tuple[str, str]) -> None:
    identity = NodeIdentity(tmp_path / "_identity.json")
    assert identity.add_trusted_key("hub", peer_keys[0]) is True
    assert identity.add_trusted_key("hub", peer_keys[1]) is False
    assert identity.is_trusted_key(peer_keys[0])
    assert identity.get_trusted_alias(peer_keys[0]) == "hub"
    assert identity.remove_trusted_key("hub") is True
    assert identity.remove_trusted_key("hub") is False


# -- the reference's own files ---------------------------------------------------------------
def test_loads_an_identity_written_by_reference_07(
    tmp_path: Path, peer_keys: tuple[str, str]
) -> None:
    out = _run_reference(
        REF_07,
        tmp_path,
        f"""
        from hivemind_bus_client.identity import NodeIdentity
        i = NodeIdentity()
        i.name = "ref-sat"
        i.access_key = "ref-access"
        i.password = "ref-password"
        i.site_id = "attic"
        i.default_master = "ws://192.168.1.2"
        i.default_port = 5678
        i.create_keys()
        i.add_trusted_key("hub", {peer_keys[0]!r})
        i.save()
        print(i.IDENTITY_FILE.path)
        """,
    )
    path = Path(out.strip().splitlines()[-1])
    assert path == tmp_path / "hivemind" / "_identity.json"
    identity = NodeIdentity(path)
    assert identity.name == "ref-sat"
    assert identity.access_key == "ref-access" and identity.password == "ref-password"
    assert identity.site_id == "attic"
    assert (identity.default_master, identity.default_port) == ("ws://192.168.1.2", 5678)
    assert identity.is_trusted(peer_keys[0]) and identity.alias_of(peer_keys[0]) == "hub"
    recorded_public = identity.public_key
    assert recorded_public is not None
    assert RSA.import_key(identity.private_key_pem).public_key() == RSA.import_key(recorded_public)
    assert identity.public_key_pem == recorded_public  # nothing regenerated
    # the reference wrote its private key 0644; loading it made it owner-only
    assert _mode(Path(identity.private_key)) == 0o600


def test_reference_07_reads_what_we_write(tmp_path: Path, peer_keys: tuple[str, str]) -> None:
    identity = NodeIdentity(tmp_path / "hivemind" / "_identity.json")
    identity.name = "ours"
    identity.access_key = "our-access"
    identity.password = "our-password"
    identity.site_id = "porch"
    identity.default_master = "ws://hub"
    identity.default_port = 5679
    identity.save()
    public = identity.public_key_pem
    identity.trust(peer_keys[1], "friend")
    out = _run_reference(
        REF_07,
        tmp_path,
        """
        import json
        from hivemind_bus_client.identity import NodeIdentity
        from poorman_handshake.asymmetric.utils import load_RSA_key
        i = NodeIdentity()
        key = load_RSA_key(i.private_key)
        print(json.dumps({
            "name": i.name, "access_key": i.access_key, "password": i.password,
            "site_id": i.site_id, "host": i.default_master, "port": i.default_port,
            "public_key": i.public_key, "trusted": i.trusted_keys,
            "derived_public": key.public_key().export_key().decode(),
        }))
        """,
    )
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["name"] == "ours" and seen["access_key"] == "our-access"
    assert seen["password"] == "our-password" and seen["site_id"] == "porch"
    assert (seen["host"], seen["port"]) == ("ws://hub", 5679)
    assert seen["public_key"] == public
    assert normalize_public_key(seen["derived_public"]) == normalize_public_key(public)
    assert normalize_public_key(seen["trusted"]["friend"]) == normalize_public_key(peer_keys[1])


def test_loads_an_identity_written_by_reference_12(tmp_path: Path) -> None:
    out = _run_reference(
        REF_12,
        tmp_path,
        """
        from hivemind_bus_client.identity import NodeIdentity
        i = NodeIdentity()
        i.name = "sat12"
        i.access_key = "k12"
        i.create_keys()
        i.pin_noise_key("hub:5678", "cd" * 32)
        i.save()
        print(i.IDENTITY_FILE.path)
        """,
    )
    path = Path(out.strip().splitlines()[-1])
    identity = NodeIdentity(path)
    assert identity.name == "sat12" and identity.access_key == "k12"
    assert identity.pinned_hub("hub:5678") == "cd" * 32
    assert json.loads(path.read_text())["secret_key"] == DEFAULT_KEY_FILENAME  # 1.x: relative
    recorded = identity.public_key
    assert recorded is not None
    assert RSA.import_key(identity.private_key_pem).public_key() == RSA.import_key(recorded)


def test_a_key_loaded_again_is_not_parsed_and_checked_again(
    keyed_identity_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing an RSA private key runs two primality tests (~50 ms); every client on the
    shared identity loads the same key, so a process parses each key text once."""
    identity = _copy_identity(keyed_identity_dir, tmp_path / "hm")
    calls: list[object] = []
    real_import = RSA.import_key

    def counting_import(*args: object, **kwargs: object) -> object:
        calls.append(args[0])
        return real_import(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(RSA, "import_key", counting_import)
    first = NodeIdentity(identity.path).private_key_pem
    second = NodeIdentity(identity.path).private_key_pem
    assert first == second
    assert len(calls) <= 1


def test_a_noise_static_key_file_is_created_with_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "noise_key"
    key, created = noise_static_key(path)
    assert created and len(key) == 32 and path.read_text() == key.hex()
    assert noise_static_key(str(path)) == (key, False)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.write_text("00")
    with pytest.raises(IdentityError):
        noise_static_key(path)
    path.write_text("zz")
    with pytest.raises(IdentityError):
        noise_static_key(path)
