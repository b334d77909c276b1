"""``python -m hivemind_client.compat [--force] TARGET [ARGS...]``: run a console script or a
module written for ``hivemind_bus_client`` on this library.

TARGET is a console script's name (an entry point of an installed distribution, such as
``hivemind-mic-sat``) or a module name (run as ``python -m`` would). ``--force`` maps
``hivemind_bus_client`` even when the real package is installed.
"""

from __future__ import annotations

import runpy
import sys
from importlib.metadata import entry_points
from importlib.util import find_spec

from hivemind_client.compat import install

USAGE = "usage: python -m hivemind_client.compat [--force] CONSOLE-SCRIPT-OR-MODULE [ARGS...]"


def main(argv: list[str] | None = None) -> int:
    """Install the mapping, then run TARGET with ARGS as its command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    force = False
    if args and args[0] == "--force":
        force = True
        args.pop(0)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not args else sys.stdout)
        print(__doc__, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    target, rest = args[0], args[1:]
    if not install(force=force):
        print(
            "hivemind_client.compat: a real hivemind_bus_client is installed and is used "
            "(pass --force to map it onto hivemind_client)",
            file=sys.stderr,
        )
    scripts = [ep for ep in entry_points(group="console_scripts") if ep.name == target]
    sys.argv = [target, *rest]
    if scripts:
        result = scripts[0].load()()
        return result if isinstance(result, int) else 0
    try:
        found = find_spec(target) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        print(
            f"hivemind_client.compat: no console script or module named {target!r}", file=sys.stderr
        )
        return 2
    runpy.run_module(target, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
