"""Self-test of the hub fixture's process handling (standard library only, any python3).

    python3 tests/e2e/selftest_hubs.py [4.0|5.3 ...]     (default: both)

Checks, per hub version: start; config written as asked; restart on the same port with the same
client database; kill and start again; bus_emit reaches the bus record; an exception inside the
``with`` block still stops everything; a SIGKILLed parent leaves no child behind (PDEATHSIG);
``max_lifetime`` stops a hub whose parent never closes it. Every check ends by asserting that
no process of that hub is left (looked up in /proc by its temp dir).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hubs import RunningHub, port_open  # noqa: E402


def procs_mentioning(marker: str) -> list[tuple[int, str]]:
    """Processes whose command line or environment mentions ``marker`` (a temp dir path)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (d / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in cmd or marker in env:
            out.append((int(d.name), cmd.strip()))
    return out


def assert_no_procs(marker: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = procs_mentioning(marker)
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes left behind for {marker}: {left}")
        time.sleep(0.1)


def check(version: str) -> list[str]:
    done: list[str] = []
    try:
        _check(version, done)
    finally:
        for d in _TMP:
            shutil.rmtree(d, ignore_errors=True)
        _TMP.clear()
    return done


_TMP: list[str] = []


def _mkdtemp(prefix: str) -> str:
    d = tempfile.mkdtemp(prefix=prefix)
    _TMP.append(d)
    return d


def _check(version: str, done: list[str]) -> None:
    # lifecycle, config, restart/kill on the same port, bus helper
    tmp = _mkdtemp(prefix=f"selftest-{version}-")
    encs, ciphers = ["JSON-B64", "JSON-HEX"], ["AES-GCM"]
    with RunningHub(
        version, tmp, binarize=True, allowed_encodings=encs, allowed_ciphers=ciphers, start=False
    ) as hub:
        node = hub.add_client("selftest", "selftest-key")
        hub.start()
        cfg = hub.read_config()
        ws = cfg["network_protocol"]["hivemind-websocket-plugin"]
        assert ws["host"] == "127.0.0.1" and ws["port"] == hub.port, ws
        assert "hivemind-http-plugin" not in cfg["network_protocol"]
        agent = cfg["agent_protocol"]["hivemind-ovos-agent-plugin"]
        assert agent == {"host": "127.0.0.1", "port": hub.bus_port}, agent
        assert cfg["binarize"] is True and cfg["allowed_encodings"] == encs
        assert cfg["allowed_ciphers"] == ciphers
        if version != "4.0":
            assert cfg["presence"]["enabled"] is False and cfg["presence"]["zeroconf"] is False
        assert "selftest-key" in hub.list_clients()
        done.append(f"start+config ({hub.timings['hub_start']:.2f}s)")

        port, pid = hub.port, hub.hub_pid
        t = hub.restart()
        assert hub.port == port and hub.hub_pid != pid and port_open(hub.host, port)
        assert "selftest-key" in hub.list_clients()
        done.append(f"restart same port+db ({t:.2f}s)")

        hub.kill()
        assert not port_open(hub.host, port) and not hub.running
        hub.start()
        assert port_open(hub.host, port)
        done.append("kill+start")

        since = time.time()
        hub.bus_emit("selftest.ping", {"n": 7}, {"destination": ["nobody"]})
        m = hub.wait_bus_message("selftest.ping", 5, since=since)
        assert m["data"] == {"n": 7}, m
        done.append(f"bus_emit->record (node {node})")
    assert_no_procs(tmp)
    done.append("close: no process left")

    # an exception inside the with block
    tmp = _mkdtemp(prefix=f"selftest-{version}-exc-")
    try:
        with RunningHub(version, tmp) as hub:
            assert hub.running
            raise KeyError("boom")
    except KeyError:
        pass
    assert_no_procs(tmp)
    done.append("exception: no process left")

    # the parent dies hard (SIGKILL: no atexit, no __exit__)
    tmp = _mkdtemp(prefix=f"selftest-{version}-orphan-")
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(HERE)!r})
        from hubs import RunningHub
        hub = RunningHub({version!r}, {tmp!r}).__enter__()
        print("UP", flush=True)
        time.sleep(600)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "UP"
        assert procs_mentioning(tmp), "hub processes should be running"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert_no_procs(tmp, timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    done.append("parent SIGKILLed: no process left")

    # hard lifetime
    tmp = _mkdtemp(prefix=f"selftest-{version}-life-")
    hub = RunningHub(version, tmp, max_lifetime=6)
    try:
        hub.__enter__()
        port = hub.port
        time.sleep(8)
        left = [p for p in procs_mentioning(tmp)]
        assert not port_open("127.0.0.1", port) and not left, left
    finally:
        hub.close()
    assert_no_procs(tmp)
    done.append("max_lifetime: stopped itself")


def main(argv: list[str]) -> int:
    versions = argv or ["4.0", "5.3"]
    failed = 0
    for v in versions:
        t0 = time.monotonic()
        try:
            done = check(v)
            print(f"PASS hub {v} in {time.monotonic() - t0:.1f}s: " + "; ".join(done), flush=True)
        except Exception as e:
            failed += 1
            print(f"FAIL hub {v}: {e!r}", flush=True)
    print(f"{len(versions) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
