"""``hivemind-client terminal``: an interactive satellite on the command line.

Each line typed goes out as ``recognizer_loop:utterance``; ``speak`` answers are printed as
they arrive, above the prompt. The link's life is shown as it happens (lost, reconnected,
failed); lines typed while the link is down wait in the client's queue. Ctrl-D or Ctrl-C
leaves cleanly. With stdin not a terminal (a pipe, a file), no prompt is drawn: the lines are
sent as they are read, and at end of input the command waits up to ``--answer-timeout``
seconds for the answers still owed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from hivemind_client.cli.support import (
    EXIT_ERROR,
    EXIT_OK,
    Environment,
    connect,
    default_environment,
    describe_info,
    resolve_settings,
    say,
    send,
)
from hivemind_client.sync.driver import ReconnectPolicy
from hivemind_client.wire.message import Message

__all__ = ["PROMPT", "terminal"]

PROMPT = "you> "
"""The prompt shown when stdin is a terminal."""


class _Screen:
    """Prints lines from any thread without tearing the prompt the user is typing at."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive
        self._lock = threading.Lock()
        self._prompting = False
        try:
            import readline  # noqa: F401  (line editing and history for input())

            self._readline: Any = sys.modules["readline"]
        except ImportError:  # pragma: no cover - not on every platform
            self._readline = None

    def line(self, text: str) -> None:
        """Show ``text`` on its own line; redraw the prompt and the half-typed input after it."""
        with self._lock:
            if self.interactive and self._prompting:
                typed = self._readline.get_line_buffer() if self._readline else ""
                sys.stdout.write(f"\r\x1b[K{text}\n{PROMPT}{typed}")
                sys.stdout.flush()
            else:
                say(text)

    def read(self) -> str:
        """One line from the user (EOFError at the end, KeyboardInterrupt on Ctrl-C)."""
        if not self.interactive:
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            return line.rstrip("\r\n")
        with self._lock:
            self._prompting = True
        try:
            return input(PROMPT)
        finally:
            with self._lock:
                self._prompting = False


def terminal(args: argparse.Namespace, environment: Environment | None = None) -> int:
    """Run the interactive satellite until Ctrl-D / Ctrl-C (or end of piped input)."""
    identity = (environment or default_environment()).identity(args, False)
    settings = resolve_settings(args, identity)
    screen = _Screen(sys.stdin.isatty())
    owed = 0  # utterances sent whose answer has not arrived yet (piped input waits for them)
    owed_lock = threading.Condition()
    closing = threading.Event()  # our own close is not news

    client, info = connect(
        settings,
        identity,
        timeout=args.timeout,
        reconnect=ReconnectPolicy(first_delay=0.5, max_delay=5.0),
        environment=environment,
    )

    def on_speak(message: Any) -> None:
        nonlocal owed
        utterance = message.data.get("utterance") if isinstance(message.data, dict) else None
        screen.line(f"hub> {utterance if isinstance(utterance, str) else message.data}")
        with owed_lock:
            owed = max(0, owed - 1)
            owed_lock.notify_all()

    def on_connected(new_info: Any) -> None:
        if new_info is info:  # the first connection's own event can still be on its way
            return
        screen.line(f"[reconnected to {settings.address}: {describe_info(new_info)}]")

    def on_disconnected(event: Any) -> None:
        code = getattr(event, "code", None)
        reason = getattr(event, "reason", "") or "no reason given"
        if closing.is_set() or reason == "closed by the client":
            return
        detail = f"code {code}, {reason}" if code is not None else reason
        screen.line(f"[link to the hub lost ({detail}); reconnecting...]")

    def on_failed(error: Any) -> None:
        screen.line(f"[connection failed: {getattr(error, 'code', 'error')}: {error}]")

    client.on_mycroft("speak", on_speak)
    client.on("connected", on_connected)
    client.on("disconnected", on_disconnected)
    client.on("failed", on_failed)
    say(f"connected to {settings.address} as site {settings.site_id or 'unknown'!r}")
    say(f"  {describe_info(info)}")
    if screen.interactive:
        say("type an utterance and press Enter; Ctrl-D or Ctrl-C to leave")
    status = EXIT_OK
    try:
        while True:
            try:
                text = screen.read().strip()
            except EOFError:
                break
            if not text:
                continue
            with owed_lock:  # counted first: a fast hub can answer before send() returns
                owed += 1
            try:
                send(
                    client,
                    Message("recognizer_loop:utterance", {"utterances": [text], "lang": args.lang}),
                )
            except BaseException:
                with owed_lock:
                    owed -= 1
                raise
            if not client.connected:
                screen.line(f"[not connected: {client.queued} message(s) wait for the hub]")
        if not screen.interactive:
            deadline = time.monotonic() + args.answer_timeout
            with owed_lock:
                while owed > 0 and (left := deadline - time.monotonic()) > 0:
                    owed_lock.wait(min(left, 0.1))
                missing = owed
            if missing:
                say(f"[{missing} answer(s) missing after {args.answer_timeout:g} s]")
                status = EXIT_ERROR
    except KeyboardInterrupt:
        pass  # Ctrl-C is the normal way out of an interactive session
    finally:
        closing.set()
        if screen.interactive:
            sys.stdout.write("\n")
        client.close()
    say("bye")
    return status
