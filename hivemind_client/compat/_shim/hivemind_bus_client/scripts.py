"""``hivemind_bus_client.scripts``: the reference's ``hivemind-client`` command is this
library's :mod:`hivemind_client.cli` (same command names)."""

from hivemind_client.cli import main

__all__ = ["hmclient_cmds", "main"]

hmclient_cmds = main
