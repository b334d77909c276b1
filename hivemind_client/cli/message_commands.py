"""One-shot commands: connect, do one thing, report, exit with a meaningful status.

``test-identity`` (handshake report), ``send-mycroft`` / ``escalate`` / ``propagate`` (one
message), ``query`` / ``cascade`` (ask, print the answers), ``ping`` (PING flood, hive map).
None of them reconnects: a dropped link is the answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid

from hivemind_client.cli.support import (
    EXIT_ERROR,
    EXIT_NO_ANSWER,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Environment,
    IdentityLike,
    Settings,
    connect,
    default_environment,
    describe_info,
    parse_json_object,
    resolve_settings,
    say,
    send,
    shorten,
    watch_link,
)
from hivemind_client.satellite.cascade import (
    QUERY_COMPLETE,
    CascadeAggregator,
    CascadeResult,
    select_all,
)
from hivemind_client.satellite.hivemap import display_peer
from hivemind_client.wire.message import HiveMessage, Message
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "cascade",
    "escalate",
    "ping",
    "propagate",
    "query",
    "send_mycroft",
    "test_identity",
]

_NO_ANSWER = "hive.query.timeout"


def _setup(
    args: argparse.Namespace, environment: Environment | None
) -> tuple[Settings, IdentityLike]:
    # The identity goes to the client even when its file does not exist yet: a protocol v3
    # hub pins our Noise static key per access key, so it must be the same key every time
    # (the file, keys and hub pins are created on first connection, as the reference does).
    identity = (environment or default_environment()).identity(args, False)
    return resolve_settings(args, identity), identity


def test_identity(args: argparse.Namespace, environment: Environment | None = None) -> int:
    """Connect once; print the negotiated details or fail with the error's code and message."""
    settings, identity = _setup(args, environment)
    settings.require_hub()
    say(f"identity  {settings.identity_path}{'' if settings.identity_exists else ' (missing)'}")
    say(f"hub       {settings.address}")
    started = time.monotonic()
    client, info = connect(settings, identity, timeout=args.timeout, environment=environment)
    took = time.monotonic() - started
    client.close()
    say(f"connected in {took:.2f} s as site {settings.site_id or 'unknown'!r}")
    if info is None:
        say("identity OK")
        return EXIT_OK
    say(f"  protocol   v{info.protocol_version} ({info.handshake} handshake)")
    say(f"  cipher     {info.cipher or 'none'}")
    say(f"  encoding   {info.encoding or 'none'}")
    say(f"  binary     {'on' if info.binarize else 'off'}")
    if info.hub_node_id:
        say(f"  hub id     {display_peer(info.hub_node_id)}")
    if info.hub_peer:
        say(f"  our peer   {info.hub_peer}")
    say("identity OK")
    return EXIT_OK


def _bus_message(args: argparse.Namespace) -> Message:
    data = parse_json_object(args.payload)
    return Message(args.msg, data)


def _send_one(
    args: argparse.Namespace,
    message: HiveMessage | Message,
    what: str,
    environment: Environment | None,
    loaded: tuple[Settings, IdentityLike] | None = None,
) -> int:
    settings, identity = loaded or _setup(args, environment)
    client, info = connect(settings, identity, environment=environment)
    try:
        with watch_link(client) as drops:
            send(client, message)
            say(f"sent {what} to {settings.address} ({describe_info(info)})")
            deadline = time.monotonic() + args.wait
            while not drops and time.monotonic() < deadline:
                time.sleep(0.02)
            dropped = list(drops)
    finally:
        client.close()
    if dropped:
        raise CliError(f"the hub dropped the link after the message: {dropped[0]}")
    return EXIT_OK


def send_mycroft(args: argparse.Namespace, environment: Environment | None = None) -> int:
    """One OVOS message as BUS."""
    message = _bus_message(args)
    return _send_one(args, message, f"bus message {message.msg_type!r}", environment)


def _wrapped(
    args: argparse.Namespace, kind: HiveMessageType, environment: Environment | None
) -> int:
    loaded = _setup(args, environment)
    settings = loaded[0]
    target = args.target_site or settings.site_id
    if not target:
        raise CliError(
            f"{kind.value} needs a target site: pass --target-site or --siteid "
            "(an empty target site is delivered nowhere)",
            EXIT_USAGE,
        )
    inner = _bus_message(args)
    message = HiveMessage(kind, HiveMessage(HiveMessageType.BUS, inner), target_site_id=target)
    what = f"{kind.value} of {inner.msg_type!r} for site {target!r}"
    return _send_one(args, message, what, environment, loaded)


def escalate(args: argparse.Namespace, environment: Environment | None = None) -> int:
    """One OVOS message wrapped in ESCALATE (towards the hub's own hub)."""
    return _wrapped(args, HiveMessageType.ESCALATE, environment)


def propagate(args: argparse.Namespace, environment: Environment | None = None) -> int:
    """One OVOS message wrapped in PROPAGATE (to every node)."""
    return _wrapped(args, HiveMessageType.PROPAGATE, environment)


# -- QUERY / CASCADE -------------------------------------------------------------------------
def _question(args: argparse.Namespace) -> Message:
    if args.utterance and args.msg:
        raise CliError("give either an utterance or --msg, not both", EXIT_USAGE)
    if args.utterance:
        text = " ".join(args.utterance)
        return Message("recognizer_loop:utterance", {"utterances": [text], "lang": args.lang})
    if args.msg:
        return _bus_message(args)
    raise CliError("what should be asked? give an utterance or --msg TYPE", EXIT_USAGE)


def _ask(args: argparse.Namespace, kind: HiveMessageType) -> int:
    settings, identity = _setup(args, None)
    question = _question(args)
    query_id = str(uuid.uuid4())
    aggregator = CascadeAggregator(timeout=args.timeout, selector=select_all)
    lock = threading.Lock()
    finished = threading.Event()
    results: list[CascadeResult] = []

    def on_answer(message: HiveMessage) -> None:
        if message.metadata.get("query_id") != query_id:
            return  # an answer to some other question
        with lock:
            result = aggregator.add(message, time.monotonic())
            if result is not None:
                results.append(result)
                finished.set()
            elif kind is HiveMessageType.QUERY and _completed(message):
                finished.set()  # QUERY: one complete answer is the answer

    client, info = connect(settings, identity)
    try:
        with watch_link(client) as drops:
            client.on(kind.value, on_answer)
            outgoing = HiveMessage(
                kind,
                HiveMessage(HiveMessageType.BUS, question),
                metadata={"query_id": query_id},
            )
            with lock:
                aggregator.start(query_id, time.monotonic())
            send(client, outgoing)
            say(
                f"asked {settings.address} ({kind.value}, {question.msg_type}); "
                f"waiting up to {args.timeout:g} s",
                stream=sys.stderr,
            )
            deadline = time.monotonic() + args.timeout
            while not finished.is_set() and not drops and time.monotonic() < deadline:
                finished.wait(0.05)
            dropped = list(drops)
    finally:
        client.close()
    with lock:
        results.extend(aggregator.poll(float("inf")))
    answers = [answer for result in results for answer in result.answers]
    if dropped and not answers:
        raise CliError(f"the hub dropped the link: {dropped[0]}")
    shown = 0
    for answer in answers:
        messages = answer.bus_messages()
        refusals = [m for m in messages if m.msg_type == _NO_ANSWER]
        useful = [m for m in messages if m.msg_type != _NO_ANSWER]
        if not useful:
            if refusals:
                reason = refusals[0].data.get("error", "no answer")
                say(f"{display_peer(answer.responder)} has no answer ({reason})", stream=sys.stderr)
            continue
        shown += 1
        state = "" if answer.complete else " (still streaming when the window closed)"
        say(f"answer from {display_peer(answer.responder)}{state}:")
        for message in useful:
            say(f"  {_render(message)}")
    if shown == 0:
        say(f"no answer within {args.timeout:g} s", stream=sys.stderr)
        return EXIT_NO_ANSWER
    return EXIT_OK


def _completed(message: HiveMessage) -> bool:
    raw = message.raw_payload
    if not isinstance(raw, dict):
        return False
    payload = raw.get("payload")
    return isinstance(payload, dict) and payload.get("type") in (QUERY_COMPLETE, _NO_ANSWER)


def _render(message: Message) -> str:
    if message.msg_type == "speak" and isinstance(message.data.get("utterance"), str):
        return f"speak: {message.data['utterance']}"
    data = json.dumps(message.data, ensure_ascii=False) if message.data else ""
    return shorten(f"{message.msg_type} {data}".strip(), 400)


def query(args: argparse.Namespace) -> int:
    """QUERY: the first complete answer (exit status 3 without one)."""
    return _ask(args, HiveMessageType.QUERY)


def cascade(args: argparse.Namespace) -> int:
    """CASCADE: every answer collected in the window (exit status 3 without any)."""
    return _ask(args, HiveMessageType.CASCADE)


# -- PING -------------------------------------------------------------------------------------
def ping(args: argparse.Namespace, environment: Environment | None = None) -> int:
    """Flood a PING; count answers live on stderr; print the map (tree or JSON) on stdout."""
    settings, identity = _setup(args, environment)
    client, _ = connect(settings, identity, environment=environment)
    live = sys.stderr.isatty()
    seen: list[str] = []
    lock = threading.Lock()

    def on_propagate(message: HiveMessage) -> None:
        # runs on the dispatcher after the router fed the mapper: reading it here is safe
        peers = list(client.hive_map.nodes)
        with lock:
            fresh = [peer for peer in peers if peer not in seen]
            seen.extend(fresh)
        if not live:
            for peer in fresh:
                node = client.hive_map.nodes.get(peer)
                site = f" (site {node.site_id})" if node is not None and node.site_id else ""
                say(f"  answer {len(seen)}: {display_peer(peer)}{site}", stream=sys.stderr)

    try:
        with watch_link(client) as drops:
            client.on("propagate", on_propagate)
            router = client.router
            if router is None:  # pragma: no cover - set when connect() returns
                raise CliError("the session has no router")
            root = router.peer
            send(client, router.start_ping(time.time()))
            say(f"PING flood sent; collecting answers for {args.timeout:g} s", stream=sys.stderr)
            deadline = time.monotonic() + args.timeout
            while not drops and (left := deadline - time.monotonic()) > 0:
                if live:
                    with lock:
                        count = len(seen)
                    sys.stderr.write(
                        f"\r{count} node{'s' if count != 1 else ''} answered, {left:4.1f} s left "
                    )
                    sys.stderr.flush()
                time.sleep(0.1)
            dropped = list(drops)
    finally:
        client.close()
    if live:
        sys.stderr.write("\r\x1b[K")
    if dropped:
        say(f"the hub dropped the link while collecting: {dropped[0]}", stream=sys.stderr)
    mapper = client.hive_map
    count = mapper.node_count
    say(f"{count} node{'s' if count != 1 else ''} answered", stream=sys.stderr)
    if args.json:
        say(mapper.to_json())
    else:
        say(mapper.render_tree(root_peer=root))
    if count:
        return EXIT_OK
    return EXIT_ERROR if dropped else EXIT_NO_ANSWER
