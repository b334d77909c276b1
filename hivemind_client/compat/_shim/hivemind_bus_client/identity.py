"""``hivemind_bus_client.identity``: :class:`hivemind_client.identity.NodeIdentity` with the
reference's constructor (``identity_file=``, ``app_name=``, ``shared_fallback=``) and names."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hivemind_client.errors import InvalidArgument
from hivemind_client.identity import NodeIdentity as _NodeIdentity
from hivemind_client.identity.node_identity import IDENTITY_FILENAME, locate_identity

__all__ = ["NodeIdentity", "shared_identity_for"]

LOG = logging.getLogger(__name__)


class _IdentityFile:
    """The reference's ``IDENTITY_FILE`` (a json_database object) as a view of our identity's
    fields: item access reads and writes them, ``store()`` saves, ``reload()`` reads again."""

    def __init__(self, owner: _NodeIdentity) -> None:
        self._owner = owner

    @property
    def path(self) -> str:
        return str(self._owner.path)

    def get(self, key: str, default: Any = None) -> Any:
        return self._owner._data.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._owner._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._owner._data[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._owner._data

    def keys(self) -> list[str]:
        """The field names (``dict(identity.IDENTITY_FILE)`` copies the fields)."""
        return list(self._owner._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._owner._data)

    def pop(self, key: str, default: Any = None) -> Any:
        return self._owner._data.pop(key, default)

    def store(self) -> None:
        self._owner.save()

    def reload(self) -> None:
        self._owner.reload()


_UNSET_DEFAULTS: dict[str, Any] = {"_private_pem": None, "_noise_private": None, "app_name": None,
                                   "uses_shared_fallback": False}


class NodeIdentity(_NodeIdentity):
    """The library's identity, built the reference's way.

    Code written for the reference builds one with ``NodeIdentity.__new__`` and assigns its own
    ``IDENTITY_FILE`` (any mapping with ``store``/``reload``); the fields are then read from and
    written to that object, and ``save``/``reload`` call its ``store``/``reload``.
    """

    @property
    def IDENTITY_FILE(self) -> Any:
        """The object the fields live in (a view of this identity unless one was assigned)."""
        assigned = self.__dict__.get("_identity_file")
        return assigned if assigned is not None else _IdentityFile(self)

    @IDENTITY_FILE.setter
    def IDENTITY_FILE(self, value: Any) -> None:
        self.__dict__["_identity_file"] = value

    @property
    def _data(self) -> Any:
        assigned = self.__dict__.get("_identity_file")
        if assigned is not None:
            return assigned
        return self.__dict__.setdefault("_fields", {})

    @_data.setter
    def _data(self, value: Any) -> None:
        self.__dict__["_fields"] = value

    def __getattr__(self, name: str) -> Any:
        # attributes __init__ sets, for an instance made with __new__
        if name == "_lock":
            return self.__dict__.setdefault("_lock", threading.RLock())
        if name == "_path":
            assigned = self.__dict__.get("_identity_file")
            where = getattr(assigned, "path", None) if assigned is not None else None
            return Path(where) if isinstance(where, str | os.PathLike) else Path(IDENTITY_FILENAME)
        if name in _UNSET_DEFAULTS:
            return _UNSET_DEFAULTS[name]
        raise AttributeError(name)

    def save(self) -> None:
        """Write the identity (``IDENTITY_FILE.store()`` when one was assigned)."""
        assigned = self.__dict__.get("_identity_file")
        if assigned is not None:
            assigned.store()
            return
        super().save()

    def reload(self) -> None:
        """Read the identity again (``IDENTITY_FILE.reload()`` when one was assigned)."""
        assigned = self.__dict__.get("_identity_file")
        if assigned is not None:
            assigned.reload()
            self._private_pem = None
            self._noise_private = None
            return
        super().reload()

    @property
    def trusted_keys(self) -> dict[str, str]:
        """A copy of the trusted keys: alias to RSA public key PEM."""
        return _NodeIdentity.trusted_keys.fget(self)  # type: ignore[attr-defined,no-any-return]

    @trusted_keys.setter
    def trusted_keys(self, value: dict[str, str]) -> None:
        with self._lock:
            self._data["trusted_keys"] = dict(value)

    @property
    def noise_key(self) -> str:
        """Where our Noise static key lives (the reference's name)."""
        return str(self.noise_key_path)

    @noise_key.setter
    def noise_key(self, value: str) -> None:
        self._set("noise_key", str(value))

    @property
    def public_key(self) -> str | None:
        """Our RSA public key (PEM), as recorded."""
        return self._get_str("public_key")

    @public_key.setter
    def public_key(self, value: str | None) -> None:
        self._set("public_key", value)

    def __init__(
        self,
        identity_file: Any = None,
        app_name: str | None = None,
        shared_fallback: bool = True,
    ) -> None:
        if app_name is not None and identity_file is not None:
            raise InvalidArgument("pass identity_file or app_name, not both")
        shared_used = False
        if identity_file is not None and not isinstance(identity_file, str | os.PathLike):
            identity_file = getattr(identity_file, "path", identity_file)  # a JsonConfigXDG
        if identity_file is None:
            identity_file, own = locate_identity(app_name, shared_fallback=shared_fallback)
            if own is not None:
                # formatted here: callers read the record's message as it was logged
                LOG.warning(f"{app_name!r} has no identity file yet and reads the shared {identity_file}")
                shared_used = True
        super().__init__(identity_file)
        self.app_name = app_name
        self.uses_shared_fallback = shared_used

    def get_pinned_noise_key(self, node_id: str) -> str | None:
        """The pinned Noise static key of a hub, hex."""
        return self.pinned_hub(node_id)

    def pin_noise_key(self, node_id: str, pubkey: str) -> None:
        """Pin a hub's Noise static key (hex)."""
        self.pin_hub(node_id, pubkey)

    def forget_noise_key(self, node_id: str) -> bool:
        """Forget a hub's pinned Noise static key."""
        return self.forget_hub(node_id)

    @property
    def pinned_noise_keys(self) -> dict[str, str]:
        """Pinned Noise static keys, hub node id -> hex."""
        return self.pinned_hubs


def shared_identity_for(owner: str) -> NodeIdentity:
    """The shared identity a client uses when it is given none."""
    LOG.warning(
        f"{owner} was built without identity= and uses the shared identity file;"
        " pass identity=NodeIdentity(...) to choose one"
    )
    return NodeIdentity()
