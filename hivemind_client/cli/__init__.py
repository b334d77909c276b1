"""The ``hivemind-client`` command line and the local demo hub: tools on top of the library,
not part of it (the library never imports this package)."""

from hivemind_client.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
