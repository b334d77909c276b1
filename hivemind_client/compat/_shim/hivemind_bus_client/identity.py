"""``hivemind_bus_client.identity``: :class:`hivemind_client.identity.NodeIdentity` with the
reference's constructor (``identity_file=``, ``app_name=``, ``shared_fallback=``) and names."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from hivemind_client.errors import InvalidArgument
from hivemind_client.identity import NodeIdentity as _NodeIdentity
from hivemind_client.identity.node_identity import IDENTITY_FILENAME

__all__ = ["NodeIdentity", "shared_identity_for"]

LOG = logging.getLogger(__name__)
_APP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


class NodeIdentity(_NodeIdentity):
    """The library's identity, built the reference's way."""

    def __init__(
        self,
        identity_file: Any = None,
        app_name: str | None = None,
        shared_fallback: bool = True,
    ) -> None:
        if app_name is not None:
            if identity_file is not None:
                raise InvalidArgument("pass identity_file or app_name, not both")
            if not isinstance(app_name, str) or not _APP_NAME.fullmatch(app_name):
                raise InvalidArgument(f"app_name must be one plain path segment: {app_name!r}")
        self.app_name = app_name
        self.uses_shared_fallback = False
        if identity_file is not None and not isinstance(identity_file, str | os.PathLike):
            identity_file = getattr(identity_file, "path", identity_file)  # a JsonConfigXDG
        if identity_file is None:
            shared = _config_home() / "hivemind" / IDENTITY_FILENAME
            identity_file = shared
            if app_name:
                identity_file = _config_home() / "hivemind" / app_name / IDENTITY_FILENAME
                if shared_fallback and not identity_file.is_file() and shared.is_file():
                    LOG.warning(
                        "%r has no identity file yet and reads the shared %s", app_name, shared
                    )
                    identity_file = shared
                    self.uses_shared_fallback = True
        super().__init__(identity_file)

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
    LOG.warning("%s was built without identity= and uses the shared identity file", owner)
    return NodeIdentity()
