"""``python -m hivemind_client.cli``: the same as the ``hivemind-client`` command."""

from hivemind_client.cli.main import main

raise SystemExit(main())
