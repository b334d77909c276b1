"""Smoke test of the hub fixture (hubs.py) with the REFERENCE clients.

Runs inside a reference-client environment, starts a real hub with hubs.RunningHub, connects
``HiveMessageBusClient(key=..., password=..., host="127.0.0.1", port=...)``, sends
``recognizer_loop:utterance`` and waits for the ``speak`` answer of the bus echo helper; then
pushes a message from the OVOS bus to the satellite. Prints timings.

    .venvs/ref-0.7/bin/python tests/e2e/smoke_reference.py --hub 4.0      # binarize off and on
    .venvs/ref-1.2/bin/python tests/e2e/smoke_reference.py --hub 5.3
    .venvs/ref-0.7/bin/python tests/e2e/smoke_reference.py --hub 5.3 --expect-refused
    python3 tests/e2e/smoke_reference.py --all    # builds the envs, runs all of the above

Exit code 0 when every variant passed. ``--json FILE`` writes the measurements.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from hubs import DEFAULT_PASSWORD, RunningHub  # noqa: E402  (stdlib only)

# (hub binarize, client binarize, hub allowed_encodings, hub allowed_ciphers) per hub version;
# None keeps the hub's default list
VARIANTS = {
    "4.0": [
        (False, True, None, None),
        (True, True, None, None),
        (True, False, None, None),
        (False, True, ["JSON-B64"], ["CHACHA20-POLY1305"]),
    ],
    "5.3": [(False, True, None, None), (True, True, None, None)],
}
PAIRS = [("ref-0.7", "4.0", []), ("ref-1.2", "5.3", []), ("ref-0.7", "5.3", ["--expect-refused"])]


def _client_home() -> Path:
    """Point the client's HOME/XDG dirs at a temp dir BEFORE hivemind_bus_client is imported
    (its NodeIdentity reads and writes ~/.config/hivemind/_identity.json)."""
    home = Path(tempfile.mkdtemp(prefix="e2e-client-"))
    atexit.register(shutil.rmtree, home, True)
    os.environ["HOME"] = str(home)
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        os.environ[var] = str(home / sub)
    return home


def _prepare_identity() -> None:
    """Create the client's RSA identity once, up front.

    hivemind_bus_client 0.7.0a2 opens the websocket (run_in_thread) BEFORE it registers its
    protocol handlers (protocol.bind), and bind() first generates an RSA key when the identity
    has none (~0.1-0.3 s). When the hub's cleartext HELLO+HANDSHAKE arrive inside that window
    they are dropped: the client then waits out wait_for_handshake's 5 s timeout and starts the
    handshake itself with binarize=False (the hub's offer was never read). A stored key shrinks
    the window to a key load; the hub's own per-connection work (4.0 generates a throw-away RSA
    key per connection when it has no identity) usually covers the rest. 1.2 binds first.
    """
    from hivemind_bus_client.identity import NodeIdentity

    ident = NodeIdentity()
    if not ident.private_key or not os.path.isfile(str(ident.private_key)):
        ident.create_keys()
        ident.save()


def _connect_bound_first(client) -> None:
    """client.connect() of 0.7.0a2 with its two steps swapped: register the protocol handlers,
    THEN open the websocket (what 1.2 does), so the hub's HELLO+HANDSHAKE are never dropped.
    See _prepare_identity for the race; --no-race-workaround runs the reference's connect()."""
    from hivemind_bus_client.protocol import HiveMindSlaveProtocol
    from ovos_utils.fakebus import FakeBus

    client.protocol = HiveMindSlaveProtocol(
        client,
        shared_bus=client.share_bus,
        site_id=client.identity.site_id or "unknown",
        identity=client.identity,
    )
    client.protocol.bind(FakeBus())
    client.run_in_thread()
    client.wait_for_handshake()


def _reconnect_step(
    hub,
    client,
    res: dict,
    speaks: queue.Queue,
    key: str,
    client_binarize: bool,
    race_workaround: bool,
):
    """Restart the hub (same port, same client database) and get an answer again.

    1.2 reconnects by itself. 0.7.0a2 does not in the env scripts/oracles/ref-0.7.txt builds today:
    its run_forever() override runs the websocket once, and ovos_bus_client 2.x (which that
    env resolves, because 0.7.0a2 asks for ovos_bus_client>=0.0.6a19 and the "a19" lets pip
    take the newest pre-release) moved the reconnect loop into the run_forever() that 0.7.0a2
    overrides (with ovos_bus_client 1.5.0 it does reconnect, in ~6 s). Then a fresh client
    connects instead; res["client_auto_reconnect"] says which happened. Returns the client now
    in use.
    """
    from importlib.metadata import version

    from hivemind_bus_client.client import HiveMessageBusClient
    from hivemind_bus_client.message import HiveMessage, HiveMessageType
    from ovos_bus_client.message import Message

    # 1.x reconnects itself; 0.7.0a2 only with ovos_bus_client < 2 (checked: 1.5.0 does, ~6 s)
    auto = hasattr(client, "noise_transport") or int(version("ovos_bus_client").split(".")[0]) < 2
    client.handshake_event.clear()
    t4 = time.monotonic()
    hub.restart()
    res["hub_restart_s"] = time.monotonic() - t4
    if auto:
        if not client.handshake_event.wait(60):
            raise AssertionError("no new handshake within 60s of the hub restart")
    else:
        with contextlib.suppress(Exception):
            client.close()
        client = HiveMessageBusClient(
            key=key,
            password=DEFAULT_PASSWORD,
            host="127.0.0.1",
            port=hub.port,
            binarize=client_binarize,
            useragent="e2e-smoke",
        )
        client.on_mycroft("speak", speaks.put)
        _connect_bound_first(client) if race_workaround else client.connect()
    res["client_auto_reconnect"] = auto
    res["reconnect_after_restart_s"] = time.monotonic() - t4
    # the handshake event can be set before the hub has registered the client (HELLO still
    # in flight): retry the first utterance a few times
    for attempt in range(20):  # noqa: B007 (reported below)
        client.emit(
            HiveMessage(
                HiveMessageType.BUS,
                payload=Message(
                    "recognizer_loop:utterance", {"utterances": ["again"], "lang": "en-US"}
                ),
            )
        )
        try:
            if speaks.get(timeout=0.5).data.get("utterance") == "echo: again":
                break
        except queue.Empty:
            continue
    else:
        raise AssertionError("no answer after the hub restart")
    res["reconnect_roundtrip_attempts"] = attempt + 1
    return client


def run_variant(
    hub_version: str,
    hub_binarize: bool,
    client_binarize: bool,
    roundtrips: int,
    keep: bool,
    res: dict,
    race_workaround: bool = True,
    reconnect: bool = True,
    encodings=None,
    ciphers=None,
) -> dict:
    from hivemind_bus_client.client import HiveMessageBusClient
    from hivemind_bus_client.message import HiveMessage, HiveMessageType
    from ovos_bus_client.message import Message

    res.update(
        {
            "hub": hub_version,
            "hub_binarize": hub_binarize,
            "client_binarize": client_binarize,
            "ok": False,
        }
    )
    key = f"smoke-{int(hub_binarize)}{int(client_binarize)}"
    t0 = time.monotonic()
    if encodings or ciphers:
        res.update({"hub_allowed_encodings": encodings, "hub_allowed_ciphers": ciphers})
    with RunningHub(
        hub_version,
        None,
        binarize=hub_binarize,
        allowed_encodings=encodings,
        allowed_ciphers=ciphers,
        start=False,
        keep_tmp=keep,
    ) as hub:
        hub.add_client("smoke", key, DEFAULT_PASSWORD)
        hub.start()
        res["hub_total_start_s"] = time.monotonic() - t0
        res["timings"] = dict(hub.timings)
        res["logs"] = str(hub.log_dir)
        speaks: queue.Queue[Message] = queue.Queue()
        pings: queue.Queue[Message] = queue.Queue()

        client = HiveMessageBusClient(
            key=key,
            password=DEFAULT_PASSWORD,
            host="127.0.0.1",
            port=hub.port,
            binarize=client_binarize,
            useragent="e2e-smoke",
        )
        client.on_mycroft("speak", speaks.put)
        client.on_mycroft("e2e.from.bus", pings.put)
        try:
            t1 = time.monotonic()
            if race_workaround and not hasattr(client, "noise_transport"):
                _connect_bound_first(client)
            else:
                client.connect()
            res["connect_handshake_s"] = time.monotonic() - t1
            # see _prepare_identity: > 4 s means the hub's shake offer was missed (0.7 race)
            res["missed_hub_offer"] = res["connect_handshake_s"] > 4.0
            res["client_saw_hub_binarize"] = bool(getattr(client.protocol, "binarize", None))
            if getattr(client, "noise_transport", None) is not None:
                res["transport"] = "v3 noise"
            else:
                cipher = str(getattr(client.cipher, "value", client.cipher))
                encoding = str(getattr(client.json_encoding, "value", client.json_encoding))
                res["transport"] = f"v1 {cipher}/{encoding}"
                if (encodings and encoding != encodings[0]) or (ciphers and cipher != ciphers[0]):
                    raise AssertionError(
                        f"negotiated {cipher}/{encoding}, hub allows only " f"{ciphers}/{encodings}"
                    )

            rtts = []
            for i in range(roundtrips):
                text = f"hello {i}"
                t2 = time.monotonic()
                client.emit(
                    HiveMessage(
                        HiveMessageType.BUS,
                        payload=Message(
                            "recognizer_loop:utterance", {"utterances": [text], "lang": "en-US"}
                        ),
                    )
                )
                deadline = t2 + 10
                while True:
                    m = speaks.get(timeout=max(0.01, deadline - time.monotonic()))
                    if m.data.get("utterance") == f"echo: {text}":
                        break
                rtts.append(time.monotonic() - t2)
            res["rtt_s"] = {
                "n": len(rtts),
                "first": rtts[0],
                "min": min(rtts),
                "median": statistics.median(rtts),
                "max": max(rtts),
            }

            # satellite -> bus: what the OVOS side saw, and the peer id the hub stamped
            seen = hub.wait_bus_message("recognizer_loop:utterance", 5)
            ctx = seen.get("context") or {}
            res["bus_context_of_utterance"] = {
                k: ctx.get(k) for k in ("source", "destination", "peer")
            }
            peer = hub.last_peer()

            # bus -> satellite: an unsolicited message addressed to that peer
            t3 = time.monotonic()
            hub.bus_emit("e2e.from.bus", {"n": 1}, {"destination": [peer], "source": "e2e"})
            got = pings.get(timeout=10)
            res["bus_to_satellite_s"] = time.monotonic() - t3
            assert got.data == {"n": 1}, got.data

            # the hub restarts on the same port with the same database
            if reconnect:
                client = _reconnect_step(
                    hub, client, res, speaks, key, client_binarize, race_workaround
                )

            log = hub.hub_log.read_text(errors="replace")
            res["hub_sent_binary_frames"] = log.count("unencrypted binary payload size")
            if hub_version == "4.0" and hub_binarize and not res["hub_sent_binary_frames"]:
                raise AssertionError(
                    "hub binarize=on but the hub sent no binary frame "
                    f"(missed_hub_offer={res['missed_hub_offer']})"
                )
            res["ok"] = True
        finally:
            try:
                client.close()
            except Exception as e:
                res["close_error"] = repr(e)
    return res


def run_refused(hub_version: str, keep: bool) -> dict:
    """0.7.0a2 against a v3-only hub: expect no handshake, and the hub to log its refusal."""
    from hivemind_bus_client.client import HiveMessageBusClient

    res: dict = {"hub": hub_version, "expect": "refused", "ok": False}
    with RunningHub(hub_version, None, start=False, keep_tmp=keep) as hub:
        hub.add_client("old", "old-client-key", DEFAULT_PASSWORD)
        hub.start()
        res["logs"] = str(hub.log_dir)
        client = HiveMessageBusClient(
            key="old-client-key",
            password=DEFAULT_PASSWORD,
            host="127.0.0.1",
            port=hub.port,
            useragent="e2e-old",
        )
        t0 = time.monotonic()
        threading.Thread(target=lambda: _swallow(client.connect), daemon=True).start()
        refusal = "this node requires the v3 Noise handshake"
        refused_after = None
        while time.monotonic() - t0 < 15:
            if client.handshake_event.is_set():
                break
            if refusal in hub.hub_log.read_text(errors="replace"):
                refused_after = time.monotonic() - t0
                break
            time.sleep(0.1)
        res["handshake_completed"] = client.handshake_event.is_set()
        res["hub_refused_after_s"] = refused_after
        with contextlib.suppress(Exception):
            client.close()  # 0.7 would otherwise retry forever
        res["ok"] = not res["handshake_completed"] and refused_after is not None
    return res


def _swallow(fn) -> None:
    with contextlib.suppress(Exception):
        fn()


def main_in_env(a: argparse.Namespace) -> int:
    _client_home()
    _prepare_identity()
    if (
        not a.verbose
    ):  # the reference clients log every frame (ovos LOG to stdout, logging to stderr)
        import logging

        from ovos_utils.log import LOG

        LOG.set_level("ERROR")
        logging.disable(logging.WARNING)
    results = []
    if a.expect_refused:
        results.append(run_refused(a.hub, a.keep))
    else:
        variants = VARIANTS[a.hub]
        if a.binarize != "all":
            want = a.binarize == "on"
            variants = [v for v in variants if v[0] == want][:1]
        for hub_bin, cli_bin, encs, ciphers in variants:
            res: dict = {}
            try:
                run_variant(
                    a.hub,
                    hub_bin,
                    cli_bin,
                    a.roundtrips,
                    a.keep,
                    res,
                    race_workaround=not a.no_race_workaround,
                    reconnect=not a.no_reconnect,
                    encodings=encs,
                    ciphers=ciphers,
                )
            except Exception as e:
                res.update({"ok": False, "error": repr(e)})
            results.append(res)
    import hivemind_bus_client.version as v

    ref = (
        f"{v.VERSION_MAJOR}.{v.VERSION_MINOR}.{v.VERSION_BUILD}"
        if hasattr(v, "VERSION_MAJOR")
        else "?"
    )
    for r in results:
        r["reference_client"] = getattr(v, "__version__", ref)
        print(json.dumps(r, default=str), flush=True)
    for r in results:
        print(_summary(r), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2, default=str))
    ok = all(r["ok"] for r in results)
    print(f"{sum(r['ok'] for r in results)} passed, {sum(not r['ok'] for r in results)} failed")
    return 0 if ok else 1


def _summary(r: dict) -> str:
    ms = lambda x: f"{x * 1000:.0f}ms" if isinstance(x, int | float) else "-"  # noqa: E731
    head = (
        f"{'PASS' if r.get('ok') else 'FAIL'} ref {r.get('reference_client')} -> hub {r.get('hub')}"
    )
    if r.get("hub_allowed_encodings") or r.get("hub_allowed_ciphers"):
        head += f" allowed={r.get('hub_allowed_ciphers')}/{r.get('hub_allowed_encodings')}"
    if r.get("expect") == "refused":
        return (
            f"{head} (expect refusal): handshake_completed={r.get('handshake_completed')}, "
            f"hub refused after {ms(r.get('hub_refused_after_s'))}"
        )
    rtt = r.get("rtt_s") or {}
    t = r.get("timings") or {}
    return (
        f"{head} hub_binarize={r.get('hub_binarize')} client_binarize={r.get('client_binarize')}: "
        f"hub up {ms(r.get('hub_total_start_s'))} (bus {ms(t.get('messagebus_start'))}, "
        f"hub {ms(t.get('hub_start'))}), connect+handshake {ms(r.get('connect_handshake_s'))}, "
        f"rtt median {ms(rtt.get('median'))} (first {ms(rtt.get('first'))}, max "
        f"{ms(rtt.get('max'))}, n={rtt.get('n')}), bus->satellite {ms(r.get('bus_to_satellite_s'))}, "
        f"back after hub restart {ms(r.get('reconnect_after_restart_s'))} "
        f"(auto_reconnect={r.get('client_auto_reconnect')}), "
        f"{r.get('transport')}, client saw hub binarize={r.get('client_saw_hub_binarize')}, "
        f"hub binary frames logged {r.get('hub_sent_binary_frames')}"
        + (f", ERROR {r['error']}" if r.get("error") else "")
    )


def main_all(a: argparse.Namespace) -> int:
    results: list = []
    for env, hub, extra in PAIRS:
        t0 = time.monotonic()
        for name in (env, f"hub-{hub}"):
            subprocess.run(
                [sys.executable, str(ROOT / "scripts" / "oracles.py"), "ensure", name],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        py = ROOT / ".venvs" / env / "bin" / "python"
        out = Path(tempfile.mkstemp(prefix="smoke-", suffix=".json")[1])
        cmd = [
            str(py),
            str(Path(__file__).resolve()),
            "--hub",
            hub,
            "--roundtrips",
            str(a.roundtrips),
            "--json",
            str(out),
            *extra,
            *(["--keep"] if a.keep else []),
            *(["--no-race-workaround"] if a.no_race_workaround else []),
            *(["--no-reconnect"] if a.no_reconnect else []),
        ]
        print(f"### {env} -> hub {hub} {' '.join(extra)}", flush=True)
        p = subprocess.run(cmd, timeout=600, check=False)
        got = json.loads(out.read_text() or "[]") if out.stat().st_size else []
        out.unlink()
        if p.returncode and all(r.get("ok") for r in got):
            got.append({"hub": hub, "env": env, "ok": False, "error": f"rc={p.returncode}"})
        results += got
        print(
            f"### {env} -> hub {hub}: rc={p.returncode} in {time.monotonic() - t0:.1f}s", flush=True
        )
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2, default=str))
    passed = sum(bool(r.get("ok")) for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--all", action="store_true", help="run every reference/hub pair (any python3)")
    ap.add_argument("--hub", choices=sorted(VARIANTS), default="4.0")
    ap.add_argument("--binarize", choices=["all", "on", "off"], default="all")
    ap.add_argument("--roundtrips", type=int, default=20)
    ap.add_argument("--expect-refused", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the hub temp dirs (logs)")
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--verbose", action="store_true", help="keep the reference client's log")
    ap.add_argument("--no-reconnect", action="store_true", help="skip the hub restart step")
    ap.add_argument(
        "--no-race-workaround",
        action="store_true",
        help="0.7: use the reference connect() as is (may miss the hub's offer)",
    )
    a = ap.parse_args(argv)
    return main_all(a) if a.all else main_in_env(a)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
