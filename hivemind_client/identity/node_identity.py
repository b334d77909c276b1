"""The node's identity on disk: credentials, RSA key pair, trusted peers, pinned hubs.

The file is ``$XDG_CONFIG_HOME/hivemind/_identity.json`` (``~/.config/hivemind/_identity.json``
when the variable is unset), with the field names of the reference client, so identity files
written by ``hivemind_bus_client`` 0.7 and 1.x load unchanged:

=====================  ====================================================================
``name``               human-readable node label (legacy files: derived from ``key``)
``access_key``         the key the hub knows this client by
``password``           the shared password (legacy handshake, Noise PSK)
``site_id``            the site this node serves
``default_master``     hub host (``ws://`` / ``wss://`` URL or bare host)
``default_port``       hub port
``public_key``         our RSA public key, PEM
``secret_key``         path of our RSA private key PEM (relative paths resolve against the
                       identity directory; an inline PEM is accepted too)
``noise_key``          path of our X25519 static key for protocol v3 (hex on disk)
``pinned_noise_keys``  hub static keys pinned on first use, ``{"host:port": hex}``
``trusted_keys``       peers we trust, ``{alias: RSA public key PEM}``
=====================  ====================================================================

Unknown fields are kept as they are. Every write is atomic (a temporary file in the same
directory, fsync, ``os.replace``, fsync of the directory), and every file this module writes is
created with mode 0600 from the start: the identity holds the password and the access key, the
key files hold private keys. Derived Noise PSKs are cached beside the static key, in the
reference's ``<noise key>_psks.json`` layout, also 0600.

Files written by other tools are tightened when loaded: an identity file or key file that other
users can read becomes 0600 (with a warning), as the reference writes them 0644. The identity
directory is checked before anything in it is read, because whoever can write to it can swap the
identity (and with it the trusted and pinned keys): a directory other users can write to is made
0700, with one warning, when it is ours, and refused with IdentityError when it belongs to
someone else (we cannot fix it, and using it would trust its other writers) or is a shared
sticky directory such as ``/tmp`` (which must stay writable for everyone, even when it is
ours because we run as root).

Setting a property changes the identity in memory until :meth:`NodeIdentity.save`, as in the
reference; generating keys, trusting a key and pinning a hub save at once (the whole identity,
pending edits included), because losing them would silently change who this node is or trusts.
Nothing secret is logged or shown in ``repr``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from Crypto.PublicKey import RSA

from hivemind_client.errors import IdentityError, InvalidArgument
from hivemind_client.security.keys import (
    import_rsa_key,
    normalize_public_key,
    public_key_fingerprint,
)

__all__ = [
    "DEFAULT_KEY_FILENAME",
    "IDENTITY_FILENAME",
    "RSA_KEY_BITS",
    "IdentityError",
    "NodeIdentity",
    "PskCache",
    "APP_NAME_PATTERN",
    "default_identity_path",
    "identity_path_for",
    "noise_static_key",
    "normalize_public_key",
    "public_key_fingerprint",
]

_log = logging.getLogger(__name__)

IDENTITY_FILENAME = "_identity.json"
"""File name of the identity inside ``<config dir>/hivemind/``."""

DEFAULT_KEY_FILENAME = "HiveMindComs.pem"
"""File name the reference gives a freshly generated private key; we keep it."""

RSA_KEY_BITS = 2048
"""Size of generated RSA keys (INTERCOM's hybrid envelope and the hubs assume 2048)."""

_PSK_CACHE_SUFFIX = "_psks.json"
_PSK_CACHE_MAX_ENTRIES = 32
_PSK_CACHE_MAX_BYTES = 1 << 20
_MAX_NODE_ID_LENGTH = 512
_NOISE_KEY_SIZE = 32
_PSK_SIZE = 32
_HEX_32 = re.compile(r"[0-9a-fA-F]{64}")
_PEM_START = "-----BEGIN"

_STRING_FIELDS = (
    "name",
    "key",
    "access_key",
    "password",
    "site_id",
    "default_master",
    "public_key",
    "secret_key",
    "noise_key",
)
_MAPPING_FIELDS = ("trusted_keys", "pinned_noise_keys")


APP_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What an application name may be: one plain path segment (the reference's rule)."""


def default_identity_path() -> Path:
    """``$XDG_CONFIG_HOME/hivemind/_identity.json``, or ``~/.config/hivemind/_identity.json``.

    A relative ``XDG_CONFIG_HOME`` is ignored, as the XDG base directory spec requires.
    """
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not base or not os.path.isabs(base):
        try:
            base = str(Path.home() / ".config")
        except RuntimeError as exc:  # no HOME and no passwd entry
            raise IdentityError(f"cannot locate the user's config directory: {exc}") from None
    return Path(base) / "hivemind" / IDENTITY_FILENAME


def locate_identity(
    app_name: str | None, *, shared_fallback: bool = True
) -> tuple[Path, Path | None]:
    """Where the identity of ``app_name`` lives: ``(path, own)``.

    ``path`` is ``<config>/hivemind/<app_name>/_identity.json``, or, while the application has
    no file of its own, the shared file exists and ``shared_fallback`` is on, the shared file;
    ``own`` is then the application's own path (the fallback happened), else None. Nothing is
    logged: the library, the command line and compat each say it their own way.
    ``app_name=None`` is the shared file.
    """
    shared = default_identity_path()
    if app_name is None:
        return shared, None
    if not isinstance(app_name, str) or not APP_NAME_PATTERN.fullmatch(app_name):
        raise InvalidArgument(
            "app_name must be letters, digits, '.', '_' or '-', start with a letter or digit"
            f" and be at most 64 characters: {app_name!r}"
        )
    own = shared.parent / app_name / shared.name
    if shared_fallback and not own.is_file() and shared.is_file():
        return shared, own
    return own, None


def identity_path_for(app_name: str | None, *, shared_fallback: bool = True) -> Path:
    """The identity file of an application: ``<config>/hivemind/<app_name>/_identity.json``.

    Two applications of one user are two nodes (one static key each). While the application
    has no file of its own and the shared one exists, ``shared_fallback`` reads the shared
    file instead, as the reference does, so a node provisioned before the application named
    itself keeps working (with a warning). ``app_name=None`` is the shared file.
    """
    path, own = locate_identity(app_name, shared_fallback=shared_fallback)
    if own is not None:
        _log.warning(
            "%r has no identity file at %s and reads the shared %s; give it its own with"
            " 'hivemind-client --app %s set-identity ...'",
            app_name,
            own,
            path,
            app_name,
        )
    return path


class NodeIdentity:
    """This node's identity file and keys (see the module docstring for the fields).

    ``path`` overrides the default location; ``app_name`` names a per-application identity
    (see :func:`identity_path_for`; not with ``path``). A missing file is an empty identity; it
    is written by :meth:`save` or when keys are first generated. A file that exists but does
    not parse raises :class:`IdentityError` rather than silently minting a new identity.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        app_name: str | None = None,
        shared_fallback: bool = True,
    ) -> None:
        if path is not None and app_name is not None:
            raise InvalidArgument("pass an identity path or app_name, not both")
        self.app_name = app_name
        self._path = (
            Path(path)
            if path is not None
            else identity_path_for(app_name, shared_fallback=shared_fallback)
        )
        self.uses_shared_fallback = app_name is not None and self._path == default_identity_path()
        """True when a named application reads the shared file (it has none of its own yet)."""
        self._lock = threading.RLock()
        self._data: dict[str, Any] = {}
        self._private_pem: str | None = None
        self._noise_private: bytes | None = None
        self.reload()

    # -- file ---------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """Where the identity file lives."""
        return self._path

    @property
    def directory(self) -> Path:
        """The directory holding the identity file and, by default, its key files."""
        return self._path.parent

    def reload(self) -> None:
        """Read the identity file again (a missing file is an empty identity)."""
        with self._lock:
            _check_directory(self.directory)
            try:
                raw = self._path.read_bytes()
            except FileNotFoundError:
                data: dict[str, Any] = {}
            except OSError as exc:
                raise IdentityError(
                    f"cannot read identity file {self._path}: {exc.strerror}"
                ) from None
            else:
                data = _parse_identity(raw, self._path)
                _tighten_mode(self._path)  # it holds the password and the access key
            self._data = data
            self._private_pem = None
            self._noise_private = None

    def save(self) -> None:
        """Write the identity file atomically, mode 0600."""
        with self._lock:
            text = json.dumps(self._data, indent=4, ensure_ascii=False) + "\n"
            _write_private_file(self._path, text.encode())

    # -- plain fields -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Human-readable node label; not unique. Defaults to ``unnamed-node``."""
        name = self._data.get("name")
        if not name and self._data.get("key"):
            # very old identity files named the node after its key file
            name = os.path.basename(str(self._data["key"]))
        return str(name) if name else "unnamed-node"

    @name.setter
    def name(self, value: str) -> None:
        self._set("name", value)

    @property
    def access_key(self) -> str | None:
        """The access key the hub knows this client by."""
        return self._get_str("access_key")

    @access_key.setter
    def access_key(self, value: str | None) -> None:
        self._set("access_key", value)

    @property
    def password(self) -> str | None:
        """The shared password (legacy handshake key, protocol v3 PSK)."""
        return self._get_str("password")

    @password.setter
    def password(self, value: str | None) -> None:
        self._set("password", value)

    @property
    def site_id(self) -> str | None:
        """The site this node serves (BROADCAST/PROPAGATE site filter)."""
        return self._get_str("site_id")

    @site_id.setter
    def site_id(self, value: str | None) -> None:
        self._set("site_id", value)

    @property
    def default_master(self) -> str | None:
        """The hub to connect to by default (URL or host)."""
        return self._get_str("default_master")

    @default_master.setter
    def default_master(self, value: str | None) -> None:
        self._set("default_master", value)

    host = default_master

    @property
    def default_port(self) -> int | None:
        """The hub port to connect to by default."""
        value = self._data.get("default_port")
        return None if value is None else int(value)

    @default_port.setter
    def default_port(self, value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidArgument("default_port must be an int")
        if value is not None and not 0 < value < 65536:
            raise InvalidArgument(f"default_port {value} is not a TCP port")
        self._set("default_port", value)

    port = default_port

    # -- RSA key pair -------------------------------------------------------------------------
    @property
    def public_key(self) -> str | None:
        """Our RSA public key PEM as recorded in the file (never generates one)."""
        return self._get_str("public_key")

    @property
    def private_key(self) -> str:
        """Path of the private key PEM file, as the reference reports it."""
        return str(self.private_key_path)

    @private_key.setter
    def private_key(self, value: str | os.PathLike[str]) -> None:
        with self._lock:
            self._set("secret_key", os.fspath(value))
            self._private_pem = None

    @property
    def private_key_path(self) -> Path:
        """Where the private key PEM lives (or will be created)."""
        stored = self._get_str("secret_key")
        if stored and stored.lstrip().startswith(_PEM_START):
            return self.directory / DEFAULT_KEY_FILENAME
        return self._resolve_key_path(stored, f"{self.name}.pem")

    @property
    def has_keys(self) -> bool:
        """Whether a private key is available without generating one."""
        stored = self._get_str("secret_key")
        if stored and stored.lstrip().startswith(_PEM_START):
            return True
        return self.private_key_path.is_file()

    @property
    def public_key_pem(self) -> str:
        """Our RSA public key PEM; the key pair is created on first use."""
        self.ensure_keys()
        value = self._get_str("public_key")
        if value is None:  # pragma: no cover - ensure_keys records it
            raise IdentityError("the public key was not recorded")
        return value

    @property
    def private_key_pem(self) -> str:
        """Our RSA private key PEM (PKCS#1); the key pair is created on first use."""
        return self.ensure_keys()

    def ensure_keys(self) -> str:
        """Load the private key, creating the pair when there is none; returns the private PEM.

        The public key in the file is re-derived from the private key when it is missing or
        does not match, because the private key is what proves who we are.
        """
        with self._lock:
            if self._private_pem is not None:
                return self._private_pem
            pem = self._read_private_pem()
            if pem is None:
                if self._data.get("public_key"):
                    _log.warning(
                        "identity %s records a public key but its private key is missing; "
                        "generating a new key pair",
                        self._path,
                    )
                return self.reset_keys()
            key = _import_private_key(pem, self.private_key_path)
            public = key.public_key().export_key(format="PEM").decode()
            stored = self._get_str("public_key")
            if stored is None or normalize_public_key(stored) != normalize_public_key(public):
                if stored is not None:
                    _log.warning(
                        "identity %s: the recorded public key does not match the private key; "
                        "recording the key derived from the private key",
                        self._path,
                    )
                self._data["public_key"] = public
                self.save()
            self._private_pem = pem
            return pem

    def reset_keys(self) -> str:
        """Generate a new 2048-bit RSA key pair, replacing any old one; returns the private PEM."""
        with self._lock:
            key = RSA.generate(RSA_KEY_BITS)
            private = key.export_key(format="PEM").decode()
            public = key.public_key().export_key(format="PEM").decode()
            stored = self._get_str("secret_key")
            target = self.directory / DEFAULT_KEY_FILENAME
            if stored and not stored.lstrip().startswith(_PEM_START):
                recorded = self.private_key_path
                # keep a recorded location unless it points into a directory that is gone
                # (an identity copied from another user's home)
                if recorded.parent == self.directory or recorded.parent.is_dir():
                    target = recorded
            _write_private_file(target, private.encode())
            # an absolute path, as the reference writes it, so both 0.7 and 1.x read it back
            self._data["secret_key"] = str(target.absolute())
            self._data["public_key"] = public
            self.save()
            self._private_pem = private
            return private

    create_keys = reset_keys

    def _read_private_pem(self) -> str | None:
        stored = self._get_str("secret_key")
        if stored and stored.lstrip().startswith(_PEM_START):
            return stored
        path = self.private_key_path
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise IdentityError(f"cannot read private key file {path}: {exc}") from None
        _tighten_mode(path)
        return text

    def _resolve_key_path(self, stored: str | None, default_name: str) -> Path:
        if not stored:
            return self.directory / default_name
        candidate = Path(stored).expanduser()
        if not candidate.is_absolute():
            return self.directory / candidate
        if candidate.exists():
            return candidate
        # an identity directory copied from another home: the key travelled with it
        beside = self.directory / candidate.name
        return beside if beside.exists() else candidate

    # -- Noise static key (protocol v3) -------------------------------------------------------
    @property
    def noise_key_path(self) -> Path:
        """Where our X25519 static private key lives (hex text)."""
        return self._resolve_key_path(self._get_str("noise_key"), f"{self.name}_noise.key")

    def noise_private_key(self) -> bytes:
        """Our 32-byte X25519 static private key, created (0600) on first use."""
        with self._lock:
            if self._noise_private is not None:
                return self._noise_private
            path = self.noise_key_path
            key, created = noise_static_key(path)
            if created:
                self._data["noise_key"] = str(path.absolute())
                self.save()
            self._noise_private = key
            return key

    # -- pinned hub static keys (protocol v3) -------------------------------------------------
    @property
    def pinned_hubs(self) -> dict[str, str]:
        """A copy of the pins: pin id (``host:port``) to hex static key."""
        return dict(self._data.get("pinned_noise_keys") or {})

    def pinned_hub(self, pin_id: str) -> str | None:
        """The hex static key pinned for ``pin_id``, or None."""
        value = (self._data.get("pinned_noise_keys") or {}).get(pin_id)
        return value if isinstance(value, str) else None

    def pin_hub(self, pin_id: str, key_hex: str) -> None:
        """Pin a hub's X25519 static key (64 hex digits) under ``pin_id``; saved at once."""
        if not isinstance(pin_id, str) or not pin_id:
            raise InvalidArgument("a pin id must be a non-empty string, e.g. 'host:port'")
        if not isinstance(key_hex, str) or not _HEX_32.fullmatch(key_hex):
            raise InvalidArgument("a pinned hub key must be 32 bytes as 64 hex digits")
        with self._lock:
            pins = self.pinned_hubs
            pins[pin_id] = key_hex.lower()
            self._data["pinned_noise_keys"] = pins
            self.save()

    def forget_hub(self, pin_id: str) -> bool:
        """Drop the pin for ``pin_id`` (the hub was reinstalled); True when there was one."""
        with self._lock:
            pins = self.pinned_hubs
            if pins.pop(pin_id, None) is None:
                return False
            self._data["pinned_noise_keys"] = pins
            self.save()
            return True

    # -- trusted peer keys --------------------------------------------------------------------
    @property
    def trusted_keys(self) -> dict[str, str]:
        """A copy of the trusted keys: alias to RSA public key PEM."""
        return {
            str(alias): key
            for alias, key in (self._data.get("trusted_keys") or {}).items()
            if isinstance(key, str)
        }

    def trust(self, pubkey_pem: str, alias: str | None = None) -> str:
        """Trust an RSA public key under ``alias`` (default: its fingerprint); returns the alias.

        Trusting a key that is already trusted renames it when a different alias is given. An
        alias that already names another key, or a value that is not an RSA public key, raises
        InvalidArgument. Saved at once.
        """
        _check_public_key(pubkey_pem)
        wanted = normalize_public_key(pubkey_pem)
        if alias is not None and (not isinstance(alias, str) or not alias):
            raise InvalidArgument("an alias must be a non-empty string")
        with self._lock:
            keys = self.trusted_keys
            current = self._alias_of_normalized(keys, wanted)
            alias = alias or current or public_key_fingerprint(wanted)
            if alias in keys and normalize_public_key(keys[alias]) != wanted:
                raise InvalidArgument(f"the alias {alias!r} already names another key")
            if current == alias:
                return alias
            if current is not None:
                del keys[current]
            keys[alias] = wanted
            self._data["trusted_keys"] = keys
            self.save()
            return alias

    def untrust(self, pubkey_or_alias: str) -> bool:
        """Stop trusting a key, named by its PEM or its alias; True when one was removed."""
        with self._lock:
            keys = self.trusted_keys
            alias = (
                pubkey_or_alias
                if pubkey_or_alias in keys
                else self._alias_of_normalized(keys, normalize_public_key(pubkey_or_alias))
            )
            if alias is None:
                return False
            del keys[alias]
            self._data["trusted_keys"] = keys
            self.save()
            return True

    def is_trusted(self, pubkey_pem: str) -> bool:
        """Whether this RSA public key PEM is trusted (line endings and spacing ignored)."""
        if not isinstance(pubkey_pem, str):
            return False
        return self.alias_of(pubkey_pem) is not None

    def alias_of(self, pubkey_pem: str) -> str | None:
        """The alias a trusted key is known by, or None."""
        return self._alias_of_normalized(self.trusted_keys, normalize_public_key(pubkey_pem))

    @staticmethod
    def _alias_of_normalized(keys: Mapping[str, str], wanted: str) -> str | None:
        for alias, key in keys.items():
            if normalize_public_key(key) == wanted:
                return alias
        return None

    # the reference's names for the same operations
    def add_trusted_key(self, alias: str, pubkey: str) -> bool:
        """Reference-compatible: trust ``pubkey`` as ``alias``; False if the alias is taken."""
        if alias in self.trusted_keys:
            return False
        self.trust(pubkey, alias)
        return True

    def remove_trusted_key(self, alias: str) -> bool:
        """Reference-compatible: forget the key named ``alias``."""
        if alias not in self.trusted_keys:
            return False
        return self.untrust(alias)

    is_trusted_key = is_trusted
    get_trusted_alias = alias_of

    # -- Noise PSK cache ----------------------------------------------------------------------
    @property
    def psk_cache_path(self) -> Path:
        """``<noise key>_psks.json`` beside the static key (the reference's layout)."""
        key_path = self.noise_key_path
        return key_path.with_name(key_path.stem + _PSK_CACHE_SUFFIX)

    def psk_cache(self) -> PskCache:
        """The PSK cache file of this identity."""
        return PskCache(self.psk_cache_path, lock=self._lock)

    def cache_psk(self, hub_node_id: str, access_key: str | None, psk_hex: str) -> bool:
        """Remember a derived PSK (64 hex digits) for a hub; True when it was stored.

        Best effort: a node id too long to be honest, or a write that fails, leaves the cache
        as it was (the PSK is derived again next time). Keeps the newest 32 entries.
        """
        return self.psk_cache().put(hub_node_id, access_key, psk_hex)

    def cached_psk(self, hub_node_id: str, access_key: str | None) -> str | None:
        """The cached PSK (hex) for this hub and access key, or None."""
        return self.psk_cache().get(hub_node_id, access_key)

    def forget_psk(self, hub_node_id: str, access_key: str | None) -> bool:
        """Drop one cached PSK (the hub rejected it: the password changed)."""
        return self.psk_cache().forget(hub_node_id, access_key)

    def clear_psks(self) -> None:
        """Delete the whole PSK cache."""
        self.psk_cache().clear()

    # -- helpers ------------------------------------------------------------------------------
    def _get_str(self, field: str) -> str | None:
        value = self._data.get(field)
        return value if isinstance(value, str) and value else None

    def _set(self, field: str, value: Any) -> None:
        if value is not None and field != "default_port" and not isinstance(value, str):
            raise InvalidArgument(f"{field} must be a string")
        with self._lock:
            if value is None:
                self._data.pop(field, None)
            else:
                self._data[field] = value

    def __repr__(self) -> str:
        return (
            f"NodeIdentity(path={str(self._path)!r}, name={self.name!r}, "
            f"site_id={self.site_id!r}, has_access_key={self.access_key is not None}, "
            f"has_password={self.password is not None}, "
            f"trusted_keys={len(self.trusted_keys)}, pinned_hubs={len(self.pinned_hubs)})"
        )


# -- module helpers ---------------------------------------------------------------------------
def _parse_identity(raw: bytes, path: Path) -> dict[str, Any]:
    """Parse and type-check an identity file; corrupt content is an IdentityError."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise IdentityError(
            f"identity file {path} is not valid JSON; restore it from a backup or delete it "
            "to start over as a new node"
        ) from None
    if not isinstance(data, dict):
        raise IdentityError(f"identity file {path} does not hold a JSON object")
    for field in _STRING_FIELDS:
        value = data.get(field)
        if value is not None and not isinstance(value, str):
            raise IdentityError(f"identity file {path}: {field!r} must be a string")
    port = data.get("default_port")
    if port is not None:
        if isinstance(port, str) and port.isdigit():
            data["default_port"] = port = int(port)
        if isinstance(port, bool) or not isinstance(port, int):
            raise IdentityError(f"identity file {path}: 'default_port' must be an integer")
    for field in _MAPPING_FIELDS:
        value = data.get(field)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise IdentityError(f"identity file {path}: {field!r} must map strings to strings")
    return data


def _import_private_key(pem: str, where: Path) -> Any:
    try:
        key = import_rsa_key(pem, private=False)
    except InvalidArgument:
        raise IdentityError(f"the private key at {where} is not a valid RSA key") from None
    if not key.has_private():
        raise IdentityError(f"the key at {where} is a public key, not a private key")
    return key


def _check_public_key(pem: Any) -> None:
    if not isinstance(pem, str) or _PEM_START not in pem:
        raise InvalidArgument("expected an RSA public key in PEM form")
    try:
        key = import_rsa_key(pem, private=False)
    except InvalidArgument:
        raise InvalidArgument("not a valid RSA public key") from None
    if key.has_private():
        raise InvalidArgument("that is a private key: trust the public key only")


def _write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, readable by the owner only at every moment."""
    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600 and a name nobody else can claim
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise IdentityError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise IdentityError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable; not every platform lets a directory be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_directory(directory: Path) -> None:
    """Refuse, or make 0700, an identity directory that other users can write to."""
    if os.name != "posix":
        return
    try:
        info = directory.stat()
    except FileNotFoundError:
        return  # created 0700 by the first save
    except OSError as exc:
        raise IdentityError(f"cannot inspect the identity directory {directory}: {exc}") from None
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o022:
        return
    if mode & stat.S_ISVTX:
        raise IdentityError(
            f"the identity directory {directory} is shared (mode {mode:04o}, like /tmp):"
            " other users could plant an identity there; use a directory of your own"
        )
    if info.st_uid != os.geteuid():
        raise IdentityError(
            f"the identity directory {directory} can be written by other users and belongs to"
            f" someone else (mode {mode:04o}): they could replace the identity; use a directory"
            " of your own"
        )
    try:
        os.chmod(directory, 0o700)
    except OSError as exc:
        raise IdentityError(
            f"the identity directory {directory} can be written by other users (mode"
            f" {mode:04o}) and its mode could not be changed: {exc.strerror}"
        ) from None
    _log.warning(
        "%s could be written by other users (mode %04o); its mode is now 0700", directory, mode
    )


def _tighten_mode(path: Path) -> None:
    """Files written by the reference (keys, the identity) are 0644: make them owner-only."""
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
            _log.warning("%s was readable by other users; its mode is now owner-only", path)
    except OSError:
        _log.warning("%s is readable by other users and its mode could not be changed", path)


def noise_static_key(path: str | os.PathLike[str]) -> tuple[bytes, bool]:
    """The 32-byte X25519 static private key kept as hex at ``path``, and whether it was just
    created: a missing file is created (0600, its directory 0700 when missing too).

    Raises IdentityError for a file that cannot be read or holds no 32-byte key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = secrets.token_bytes(_NOISE_KEY_SIZE)
        _write_private_file(path, key.hex().encode())
        return key, True
    except (OSError, UnicodeDecodeError) as exc:
        raise IdentityError(f"cannot read Noise key file {path}: {exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise IdentityError(f"Noise key file {path} is not hex") from None
    if len(key) != _NOISE_KEY_SIZE:
        raise IdentityError(f"Noise key file {path} does not hold a 32-byte key")
    _tighten_mode(path)
    return key, False


class PskCache:
    """The derived-PSK cache file (``<noise key>_psks.json``): hub node id, scoped by a digest
    of the access key, to the PSK as hex. It is derivable state, so reading is forgiving (an
    unusable or foreign-readable file is an empty cache) and writing is best effort; the file
    is 0600 from creation and keeps the newest 32 entries. A file larger than ``max_bytes``
    (1 MiB) is not read: it is taken as empty."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock: Any = None,
        max_bytes: int = _PSK_CACHE_MAX_BYTES,
    ) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise InvalidArgument("max_bytes must be a byte count")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = lock if lock is not None else threading.RLock()

    @classmethod
    def beside(
        cls, key_path: str | os.PathLike[str], *, max_bytes: int = _PSK_CACHE_MAX_BYTES
    ) -> PskCache:
        """The cache that belongs to the static key file at ``key_path``."""
        key = Path(key_path)
        return cls(key.with_name(key.stem + _PSK_CACHE_SUFFIX), max_bytes=max_bytes)

    def get(self, hub_node_id: str, access_key: str | None) -> str | None:
        """The cached PSK (hex) for this hub and access key, or None."""
        if not _cacheable_node_id(hub_node_id):
            return None
        value = _read_psk_cache(self.path, self.max_bytes).get(_psk_entry(hub_node_id, access_key))
        if isinstance(value, str) and _HEX_32.fullmatch(value):
            return value.lower()
        return None

    def put(self, hub_node_id: str, access_key: str | None, psk_hex: str) -> bool:
        """Remember a PSK (64 hex digits); True when it was written."""
        if not isinstance(psk_hex, str) or not _HEX_32.fullmatch(psk_hex):
            raise InvalidArgument("a PSK must be 32 bytes as 64 hex digits")
        if not _cacheable_node_id(hub_node_id):
            return False
        with self._lock:
            cache = _read_psk_cache(self.path, self.max_bytes)
            entry = _psk_entry(hub_node_id, access_key)
            cache.pop(entry, None)
            cache[entry] = psk_hex.lower()
            while len(cache) > _PSK_CACHE_MAX_ENTRIES:
                cache.pop(next(iter(cache)))
            try:
                _write_private_file(self.path, _psk_cache_bytes(cache))
            except IdentityError:
                _log.debug("could not write the PSK cache at %s", self.path)
                return False
            return True

    def forget(self, hub_node_id: str, access_key: str | None) -> bool:
        """Drop one entry; True when there was one (the file is not rewritten otherwise)."""
        if not _cacheable_node_id(hub_node_id):
            return False
        with self._lock:
            cache = _read_psk_cache(self.path, self.max_bytes)
            if cache.pop(_psk_entry(hub_node_id, access_key), None) is None:
                return False
            _write_private_file(self.path, _psk_cache_bytes(cache))
            return True

    def clear(self) -> None:
        """Delete the whole cache."""
        with self._lock, contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _cacheable_node_id(node_id: Any) -> bool:
    return isinstance(node_id, str) and 0 < len(node_id) <= _MAX_NODE_ID_LENGTH


def _psk_entry(node_id: str, access_key: str | None) -> str:
    """Cache entry name: the hub's node id, scoped by a digest of the access key."""
    if not access_key:
        return node_id
    return f"{hashlib.sha256(access_key.encode()).hexdigest()[:16]}@{node_id}"


def _read_psk_cache(path: Path, max_bytes: int) -> dict[str, Any]:
    """The cache, or an empty one for anything unusable (it is derivable state).

    A cache that others could read is ignored: its keys must be taken as exposed.
    """
    try:
        info = path.stat()
        if info.st_size > max_bytes:
            return {}
        if os.name == "posix" and stat.S_IMODE(info.st_mode) & 0o077:
            _log.warning("ignoring the PSK cache %s: other users can read it", path)
            return {}
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _psk_cache_bytes(cache: Mapping[str, Any]) -> bytes:
    return (json.dumps(dict(cache), indent=2, sort_keys=True) + "\n").encode()
