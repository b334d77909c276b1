"""The ``hivemind-client`` command line: one satellite's tools, from identity to live traffic.

    hivemind-client set-identity --key KEY --password - --host HUB --siteid kitchen
    hivemind-client test-identity
    hivemind-client terminal
    hivemind-client demo

Every command has ``--help`` with examples. Errors are one line on stderr and a non-zero exit
status (1 failed, 2 bad command line, 3 nothing to report: no answer, nothing removed;
130 interrupted); a traceback only appears with ``-v``. The command modules are imported when
their command runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from hivemind_client import __version__
from hivemind_client.cli.support import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    SECRETS,
    CliError,
    setup_logging,
)

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``hivemind-client ping: error: ... (see --help)``."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (1-65535)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} seconds is out of range (0-3600]")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError(f"{value} is out of range (1-100000)")
    return value


def _per_second(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError(f"{text} per second is out of range (0-100000]")
    return value


def _common_options() -> argparse.ArgumentParser:
    """Options accepted before and after the command name (the identity overrides)."""
    common = _Parser(add_help=False)
    group = common.add_argument_group("connection and identity (override the identity file)")
    suppress: Any = argparse.SUPPRESS
    group.add_argument(
        "--identity",
        metavar="PATH",
        default=suppress,
        help="identity file to use (default: $XDG_CONFIG_HOME/hivemind/_identity.json)",
    )
    group.add_argument(
        "--app",
        metavar="NAME",
        default=suppress,
        help="use the identity of application NAME ($XDG_CONFIG_HOME/hivemind/NAME/_identity.json;"
        " reads fall back to the shared file while NAME has none)",
    )
    group.add_argument("--host", default=suppress, help="hub address: HOST, ws://HOST, wss://HOST")
    group.add_argument("--port", type=_port, default=suppress, help="hub port (default 5678)")
    group.add_argument("--key", default=suppress, help="access key the hub knows this node by")
    group.add_argument(
        "--password",
        default=suppress,
        help="shared password; '-' reads it from stdin (keeps it out of the process list)",
    )
    group.add_argument("--siteid", default=suppress, help="site this node serves (e.g. kitchen)")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=suppress,
        help="log protocol events on stderr (-vv: library debug logs too)",
    )
    return common


class _Formatter(argparse.HelpFormatter):
    """Wraps prose to the terminal; keeps indented lines (the examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            if line.startswith("  ") or not line.strip():
                lines.append(indent + line)
            else:
                lines.append(
                    textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent)
                )
        return "\n".join(lines)


_FORMATTER = _Formatter


def _command(
    commands: Any,
    name: str,
    handler: str,
    summary: str,
    description: str,
    examples: str,
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog="examples:\n" + examples.strip("\n"),
        formatter_class=_FORMATTER,
        parents=[common],
    )
    parser.set_defaults(handler=handler)
    return parser


def _message_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--msg", required=required, metavar="TYPE", help="OVOS message type, e.g. speak"
    )
    parser.add_argument(
        "--payload", metavar="JSON", default="{}", help="message data as a JSON object"
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (exposed for tests and for shell-completion generators)."""
    common = _common_options()
    parser = _Parser(
        prog=PROG,
        description="HiveMind satellite client: connect to a hivemind-core hub, talk to it, "
        "inspect the hive, manage this node's identity.",
        epilog="Run 'hivemind-client COMMAND --help' for a command's options and examples.\n"
        "Exit status: 0 ok, 1 failed, 2 bad command line, 3 no answer / nothing to do, "
        "130 interrupted.",
        formatter_class=_FORMATTER,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # -- identity -----------------------------------------------------------------------------
    _command(
        commands,
        "set-identity",
        "identity_commands:set_identity",
        "save credentials and the default hub in the identity file",
        "Write the identity file (the reference client's file and fields): access key, "
        "password, default hub host and port, site id. Creates the RSA key pair when there is "
        "none, and prints the public key. Options not given keep their saved values.",
        """
  hivemind-client set-identity --key 4f1a2b --password - --host 192.168.1.10 --siteid kitchen
  echo "$HUB_PASSWORD" | hivemind-client set-identity --password -
  hivemind-client --identity /tmp/sat.json set-identity --key k1 --host ws://127.0.0.1 --port 5678
""",
        common,
    )
    _command(
        commands,
        "reset-pgp",
        "identity_commands:reset_pgp",
        "replace this node's RSA key pair",
        "Generate a new 2048-bit RSA key pair for INTERCOM and PING (the old private key file "
        "is overwritten) and print the new public key. Peers that trusted the old key must "
        "trust the new one.",
        """
  hivemind-client reset-pgp
  hivemind-client --identity /tmp/sat.json reset-pgp
""",
        common,
    )
    forget = _command(
        commands,
        "forget-server",
        "identity_commands:forget_server",
        "drop the pinned key of a protocol v3 hub",
        "A protocol v3 hub's static key is pinned on first contact; a reinstalled hub has a new "
        "key and is refused until the old pin is dropped. Without HOST:PORT, the identity's "
        "default hub is meant. With --app NAME and no identity file of NAME's own, the pin "
        "is in the shared file and the command says so: dropping it there drops it for every "
        "application. Exit status 3 when nothing was pinned for it.",
        """
  hivemind-client forget-server 192.168.1.10:5678
  hivemind-client forget-server          # the default hub of the identity file
""",
        common,
    )
    forget.add_argument("server", nargs="?", metavar="HOST:PORT", help="the hub whose pin to drop")

    trust = _command(
        commands,
        "trust",
        "identity_commands:trust",
        "manage trusted peer keys (add, remove, list)",
        "Trusted RSA public keys decide which PROPAGATE and INTERCOM senders this node "
        "believes. Keys are PEM files (or '-' for stdin) and are known by an alias.",
        """
  hivemind-client trust add living-room.pem --alias living-room
  cat peer.pem | hivemind-client trust add - --alias peer
  hivemind-client trust list
  hivemind-client trust remove living-room
""",
        common,
    )
    trust_actions = trust.add_subparsers(dest="action", metavar="ACTION", required=True)
    trust_add = trust_actions.add_parser(
        "add",
        help="trust a public key",
        description="Trust an RSA public key (PEM file, or '-' for stdin).",
        epilog="examples:\n  hivemind-client trust add peer.pem --alias kitchen-sat",
        formatter_class=_FORMATTER,
        parents=[common],
    )
    trust_add.add_argument("key_file", metavar="PEM_FILE", help="public key file, or '-'")
    trust_add.add_argument("--alias", help="name to know the key by (default: its fingerprint)")
    trust_remove = trust_actions.add_parser(
        "remove",
        help="stop trusting a key",
        description="Stop trusting a key, named by alias or by its PEM file. Exit status 3 when "
        "no such key was trusted.",
        epilog="examples:\n  hivemind-client trust remove kitchen-sat\n"
        "  hivemind-client trust remove peer.pem",
        formatter_class=_FORMATTER,
        parents=[common],
    )
    trust_remove.add_argument("name", metavar="ALIAS_OR_PEM_FILE")
    trust_list = trust_actions.add_parser(
        "list",
        help="list trusted keys",
        description="List trusted keys: alias and fingerprint (with --pem, the keys too).",
        epilog="examples:\n  hivemind-client trust list\n  hivemind-client trust list --pem",
        formatter_class=_FORMATTER,
        parents=[common],
    )
    trust_list.add_argument("--pem", action="store_true", help="print the keys as PEM too")

    # -- connecting ---------------------------------------------------------------------------
    test_identity = _command(
        commands,
        "test-identity",
        "message_commands:test_identity",
        "connect once and report what was negotiated, or exactly why it failed",
        "Connect with the saved identity (and any overrides), complete the handshake and "
        "report the negotiated protocol version, cipher and encoding; on failure, the error "
        "code and message.",
        """
  hivemind-client test-identity
  hivemind-client test-identity --host 127.0.0.1 --port 5678 --timeout 5
""",
        common,
    )
    test_identity.add_argument(
        "--timeout", type=_seconds, default=15.0, help="seconds for the handshake (default 15)"
    )

    terminal = _command(
        commands,
        "terminal",
        "terminal:terminal",
        "interactive satellite: type utterances, read the hub's answers",
        "Each line you type is sent as recognizer_loop:utterance; the hub's speak answers are "
        "printed as they arrive. Losing the link and reconnecting are shown. Leave with Ctrl-D "
        "or Ctrl-C. With stdin not a terminal, lines are read until end of input, then the "
        "answers are awaited.",
        """
  hivemind-client terminal
  hivemind-client terminal --lang de-DE
  printf 'what time is it\\ntell me a joke\\n' | hivemind-client terminal
""",
        common,
    )
    terminal.add_argument("--lang", default="en-US", help="language of the utterances")
    terminal.add_argument(
        "--timeout", type=_seconds, default=15.0, help="seconds for the first connection"
    )
    terminal.add_argument(
        "--answer-timeout",
        type=_seconds,
        default=10.0,
        help="with piped input: seconds to wait for answers after the last line (default 10)",
    )

    for name, summary, wrapper in (
        ("send-mycroft", "send one OVOS message to the hub's bus", None),
        ("escalate", "send one OVOS message up the hive (ESCALATE)", "ESCALATE"),
        ("propagate", "send one OVOS message across the hive (PROPAGATE)", "PROPAGATE"),
    ):
        how = (
            "as a BUS message"
            if wrapper is None
            else f"wrapped in {wrapper}, addressed to --target-site (default: our site id)"
        )
        sender = _command(
            commands,
            name,
            f"message_commands:{name.replace('-', '_')}",
            summary,
            f"Connect, send one OVOS message {how}, and exit. Exit status 0 when the message "
            "was sent and the hub kept the link open for --wait seconds, 1 otherwise.",
            f"""
  hivemind-client {name} --msg recognizer_loop:utterance --payload '{{"utterances": ["hello"]}}'
  hivemind-client {name} --msg speak --payload '{{"utterance": "dinner is ready"}}'
""",
            common,
        )
        _message_options(sender)
        if wrapper is not None:
            sender.add_argument("--target-site", metavar="SITE", help="site the message is for")
        sender.add_argument(
            "--wait",
            type=_seconds,
            default=0.5,
            help="seconds to watch for the hub refusing the message (default 0.5)",
        )

    for name, summary, window in (
        ("query", "ask the hive once and print the answer (QUERY)", 10.0),
        ("cascade", "ask every node and print every answer in the window (CASCADE)", 5.0),
    ):
        asker = _command(
            commands,
            name,
            f"message_commands:{name}",
            summary,
            f"Send an utterance (or --msg/--payload) as {name.upper()} and print "
            + (
                "the first complete answer. "
                if name == "query"
                else "every answer collected before the window closes. "
            )
            + "Exit status 3 when nobody answered within --timeout. Needs a hub that "
            "implements QUERY/CASCADE (hivemind-core 4.6 or newer).",
            f"""
  hivemind-client {name} "what time is it"
  hivemind-client {name} --timeout 3 --msg recognizer_loop:utterance --payload '{{"utterances": ["hi"]}}'
""",
            common,
        )
        asker.add_argument("utterance", nargs="*", help="what to ask (words are joined)")
        _message_options(asker, required=False)
        asker.add_argument("--lang", default="en-US", help="language of the utterance")
        asker.add_argument(
            "--timeout",
            type=_seconds,
            default=window,
            help=f"seconds the answer window stays open (default {window:g})",
        )

    ping = _command(
        commands,
        "ping",
        "message_commands:ping",
        "flood a PING and draw the hive map from the answers",
        "Send a PING flood (inside PROPAGATE), count the nodes answering while waiting, then "
        "print the hive map as an ASCII tree (or JSON). Exit status 3 when no node answered.",
        """
  hivemind-client ping
  hivemind-client ping --timeout 10 --json > hive.json
""",
        common,
    )
    ping.add_argument(
        "--timeout", type=_seconds, default=5.0, help="seconds to collect answers (default 5)"
    )
    ping.add_argument("--json", action="store_true", help="print the map as JSON")

    # -- load ---------------------------------------------------------------------------------
    load = _command(
        commands,
        "load",
        "load:load",
        "load-test a hub: many satellite sessions from this one process",
        "Connects --sessions satellite sessions (the asyncio client, all on one event loop) at "
        "--rate new sessions a second, then has each send --messages utterances one after "
        "another and wait for every answer (a 'speak'). A live progress line goes to stderr; "
        "the summary table (connect rate, answers per second, round-trip times, CPU per "
        "message and memory per session of this process, failures by kind) to stdout. "
        "Sessions cycle through the keys of --keys FILE ('KEY PASSWORD' per line, as the hub "
        "registered them), or all use --key/--password. Exit status 1 when a session failed "
        "or an answer was missing.",
        """
  hivemind-client load --host 127.0.0.1 --keys keys.txt --sessions 1000 --rate 100
  hivemind-client load --host hub.local --key KEY --password - --sessions 50 --messages 10
  hivemind-client load --host 127.0.0.1 --keys keys.txt --sessions 200 --json result.json
""",
        common,
    )
    load.add_argument("--sessions", type=_count, default=10, help="sessions to open (default 10)")
    load.add_argument(
        "--rate", type=_per_second, default=50.0, help="new sessions per second (default 50)"
    )
    load.add_argument(
        "--messages", type=_count, default=1, help="utterances per session (default 1)"
    )
    load.add_argument("--keys", metavar="FILE", help="access keys and passwords, one pair a line")
    load.add_argument(
        "--utterance", default="what time is it", help="what each session says (numbered)"
    )
    load.add_argument(
        "--timeout", type=_seconds, default=30.0, help="seconds for each connect and answer"
    )
    load.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")

    # -- demo ---------------------------------------------------------------------------------
    demo = _command(
        commands,
        "demo",
        "demo:demo",
        "see it work: codec offline, then a real local hub and a short conversation",
        "Part 1 encodes and decodes a few messages and runs the conformance vectors (when run "
        "from a checkout). Part 2 starts a real hivemind-core 4.0.0 hub with its OVOS "
        "messagebus and an echo responder on 127.0.0.1 (installed on first use into "
        "$XDG_CACHE_HOME/hivemind-client/hub-4.0; HIVEMIND_CLIENT_CACHE_DIR moves it), holds "
        "a short satellite conversation, prints what was negotiated and the round-trip "
        "times, and stops everything. With --host, part 2 talks to that hub instead.",
        """
  hivemind-client demo
  hivemind-client demo --offline
  hivemind-client demo --binarize --say "turn on the lights"
  hivemind-client demo --host 192.168.1.10 --key KEY --password -
""",
        common,
    )
    demo.add_argument("--offline", action="store_true", help="part 1 only: no hub, no network")
    demo.add_argument(
        "--binarize", action="store_true", help="local hub: offer binary frames (protocol v2)"
    )
    demo.add_argument(
        "--say",
        action="append",
        metavar="TEXT",
        help="an utterance for the conversation (repeatable; replaces the scripted ones)",
    )
    demo.add_argument(
        "--timeout", type=_seconds, default=10.0, help="seconds to wait for each answer"
    )
    return parser


def _handler(spec: str) -> Callable[[argparse.Namespace], int]:
    module_name, _, function = spec.partition(":")
    module = importlib.import_module(f"hivemind_client.cli.{module_name}")
    handler: Callable[[argparse.Namespace], int] = getattr(module, function)
    return handler


def _error(message: str) -> None:
    line = " ".join(SECRETS.scrub(message).split())
    sys.stderr.write(f"{PROG}: error: {line}\n")
    sys.stderr.flush()


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM / SIGHUP: unwind like Ctrl-C does, so every `finally` stops what it started
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    verbosity = int(getattr(args, "verbose", 0) or 0)
    setup_logging(verbosity)
    for name in ("SIGTERM", "SIGHUP"):
        with contextlib.suppress(AttributeError, ValueError, OSError):  # no such signal here,
            signal.signal(getattr(signal, name), _terminate)  # or not the main thread
    from hivemind_client.errors import HiveMindError

    try:
        return _handler(args.handler)(args)
    except CliError as exc:
        _error(str(exc))
        return exc.status
    except HiveMindError as exc:
        _error(f"{exc.code}: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `hivemind-client ... | head`: the reader left
        # keep the interpreter's final flush from complaining about the closed pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as exc:
        _error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_ERROR
    except Exception as exc:
        if verbosity:
            sys.stderr.write(SECRETS.scrub(traceback.format_exc()))
        _error(
            f"unexpected {type(exc).__name__}: {exc}"
            + ("" if verbosity else " (run with -v for the traceback)")
        )
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
