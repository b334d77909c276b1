"""Register many access keys with a hivemind-core 5.x hub in one process (runs in the hub's venv).

    HUB_PYTHON bench/scale/register_keys.py KEYS.json ALLOWED.json

``hivemind-core add-client`` starts a Python process per key (about a second each); this writes
the same rows through the hub's own database API (``hivemind_core.database.ClientDatabase``,
the backend its server.json names) in one process: KEYS.json is a list of ``[name, access_key,
password]``, ALLOWED.json the message types each may send. Run it with the hub's environment
(HOME and XDG dirs), as ``RunningHub.cli`` runs the CLI. Prints the number of clients after.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Add every key; an existing key is an error (the hub would keep its old pin)."""
    from hivemind_core.database import ClientDatabase  # type: ignore[import-not-found]

    keys = json.loads(Path(argv[0]).read_text())
    allowed = json.loads(Path(argv[1]).read_text())
    with ClientDatabase() as db:
        for name, key, password in keys:
            if db.get_client_by_api_key(key) is not None:
                raise SystemExit(f"access key {key} is already registered")
            if not db.add_client(name, key, password=password, allowed_types=list(allowed)):
                raise SystemExit(f"the hub's database refused {name}")
        print(db.total_clients())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
