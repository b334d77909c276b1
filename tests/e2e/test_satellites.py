"""End to end: the stock HiveMind satellites from PyPI against a real hivemind-core 5.3 hub.

Each satellite is the real program, unmodified, in its own environment built by
``scripts/oracles.py`` (``.venvs/mic-sat``: ``hivemind-mic-satellite``; ``.venvs/voice-sat``:
``hivemind-voice-sat``) and started through its console script, two ways:

- ``reference``: as shipped, on the ``hivemind_bus_client`` it depends on. This proves the
  harness itself: if it fails, the test is wrong, not the library.
- ``compat``: ``python -m hivemind_client.compat --force SCRIPT ...``, so every
  ``hivemind_bus_client`` import the satellite makes lands on this library. ``--force`` because
  the real ``hivemind_bus_client`` is installed in those environments (the satellites declare
  it); building them with ``--no-deps`` instead would mean listing each satellite's whole OVOS
  dependency tree by hand, and the first change to that tree would break the test. The
  repository goes on the satellite's PYTHONPATH, so the environments never depend on a worktree.

What a satellite hears: our microphone plugin (``satellite_plugins/e2e_wav_microphone.py``)
plays a WAV the test writes (silence, a burst of speech-like tones, silence) at real-time pace,
and ``ovos-vad-plugin-noise`` (energy threshold) marks the tones as speech. Our plugins are
found through PYTHONPATH and a ``*.dist-info`` the test writes, so no environment is modified.

``hivemind-mic-sat`` streams raw audio to the hub, which does STT. The test shows, in one run:
1. it connects (its "connected to HiveMind" log line, the hub's ``hive.client.connect``);
2. it streams RAW_AUDIO once the VAD hears speech, and the hub's binary-data plugin (ours,
   ``satellite_plugins/e2e_audio_recorder.py``) receives it;
3. its ``on_mycroft("speak")`` handler fires on a ``speak`` emitted on the hub's OVOS bus, and
   requests TTS: a ``speak:synth`` for the same utterance reaches the hub's bus;
4. the audio arrives byte for byte, from the first speech chunk on, with the microphone's sample
   rate and width in the metadata.

``hivemind-voice-sat`` runs the whole OVOS listener and audio service on the satellite, with the
client as their bus. Its default STT and TTS call public servers and its wake words download
models, none of which this machine reaches: it runs in continuous-listening mode (no wake word)
with our offline STT and TTS plugins (``satellite_plugins/e2e_speech_plugins.py``). One run shows:
1. it connects;
2. the hub refuses its background traffic (``mycroft.volume.get``, ...: not in the client's
   allowed types) and its ``hive.policy.denied`` handler hears about it;
3. what it heard reaches the hub's OVOS bus as an utterance (``ovos.utterance.handle``);
4. the hub's answer (the bus echo's ``speak``) comes back and its audio service synthesises it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import re
import signal
import struct
import subprocess
import time
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .hubs import (
    DEFAULT_ALLOWED,
    DEFAULT_PASSWORD,
    RunningHub,
    die_with_parent,
    hub_environment,
    kill_group,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = Path(__file__).resolve().parent / "satellite_plugins"

#: Entry points of our plugins, written as a dist-info on PYTHONPATH (no install needed).
ENTRY_POINTS = """\
[opm.microphone]
e2e-wav-microphone = e2e_wav_microphone:WavMicrophone

[opm.stt]
e2e-fixed-stt = e2e_speech_plugins:FixedSTT

[opm.tts]
e2e-trace-tts = e2e_speech_plugins:TraceTTS

[hivemind.binary.protocol]
e2e-audio-recorder = e2e_audio_recorder:AudioRecorder
"""

SAMPLE_RATE = 16000
CHUNK = 3200  # bytes: 0.1 s of 16 kHz 16-bit mono
LEAD_SILENCE_CHUNKS = 5  # 0.5 s before the speech starts
SPEECH_CHUNKS = 12  # 1.2 s of "speech"
TAIL_SILENCE_CHUNKS = 3
#: The satellite keeps streaming for 6 s of silence after speech; the test needs only the speech
#: and one chunk after it.
WANT_CHUNKS = SPEECH_CHUNKS + 1

SATELLITE_LIFETIME = 90  # seconds: hard limit (coreutils timeout) on the satellite process
WAIT = 30.0  # seconds for any one step below (the first start imports the whole OVOS stack)


def _ensure_env(name: str) -> Path:
    """A satellite's environment (its bin/), built by scripts/oracles.py on first use (~30 s)."""
    spec = importlib.util.spec_from_file_location("_oracles", ROOT / "scripts" / "oracles.py")
    assert spec is not None and spec.loader is not None
    oracles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracles)
    python: Path = oracles.ensure(name)
    return python.parent


def _speech_wav(path: Path) -> bytes:
    """Write a mono 16-bit WAV: silence, speech-like tones, silence. Return its PCM frames.

    The "speech" is a 150 Hz voice with two formant-like harmonics, its loudness swinging at a
    syllable rate of 4 Hz but never near zero, so every chunk of it is far above the VAD's
    energy threshold and every chunk of silence (exact zeros) far below.
    """
    frames_per_chunk = CHUNK // 2
    speech = bytearray()
    for i in range(SPEECH_CHUNKS * frames_per_chunk):
        t = i / SAMPLE_RATE
        envelope = 0.6 + 0.4 * math.sin(2 * math.pi * 4 * t)
        sample = envelope * (
            0.5 * math.sin(2 * math.pi * 150 * t)
            + 0.3 * math.sin(2 * math.pi * 700 * t)
            + 0.2 * math.sin(2 * math.pi * 1200 * t)
        )
        speech += struct.pack("<h", int(12000 * sample))
    pcm = bytes(LEAD_SILENCE_CHUNKS * CHUNK) + bytes(speech) + bytes(TAIL_SILENCE_CHUNKS * CHUNK)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return pcm


def _plugin_path(tmp: Path) -> str:
    """PYTHONPATH entries that make our plugins importable and discoverable as entry points."""
    dist = tmp / "entry_points" / "hivemind_e2e_satellite_plugins-0.0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hivemind-e2e-satellite-plugins\nVersion: 0.0.0\n"
    )
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return os.pathsep.join([str(PLUGINS), str(dist.parent)])


class RecordingHub(RunningHub):
    """A 5.3 hub whose binary-data protocol is our recorder plugin."""

    def __init__(self, tmp: Path) -> None:
        self.record_dir = tmp / "hub-audio"
        self.record_dir.mkdir(parents=True)
        self._pythonpath = _plugin_path(tmp)
        super().__init__(
            "5.3",
            tmp / "hub",
            max_lifetime=300,
            config_overrides={
                "binary_protocol": {
                    "module": "e2e-audio-recorder",
                    "e2e-audio-recorder": {"record_dir": str(self.record_dir)},
                }
            },
        )

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "PYTHONPATH": self._pythonpath}

    def _recording(self, peer: str, suffix: str) -> Path:
        # the recorder's peer_file_stem(), which runs in the hub's environment
        return self.record_dir / (re.sub(r"[^A-Za-z0-9_.-]", "_", peer) + suffix)

    def audio_peers(self) -> set[str]:
        """The peers that have streamed RAW_AUDIO so far."""
        return {
            json.loads(index.read_text().splitlines()[0])["peer"]
            for index in self.record_dir.glob("*.jsonl")
        }

    def audio_chunks(self, peer: str) -> list[dict[str, Any]]:
        """The RAW_AUDIO chunks ``peer`` sent so far: [{"peer", "bytes", "sample_rate", ...}]."""
        index = self._recording(peer, ".jsonl")
        if not index.exists():
            return []
        return [json.loads(line) for line in index.read_text().splitlines() if line.strip()]

    def audio_bytes(self, peer: str) -> bytes:
        """The RAW_AUDIO bytes ``peer`` sent so far, in order."""
        pcm = self._recording(peer, ".pcm")
        return pcm.read_bytes() if pcm.exists() else b""


def _mycroft_conf(wav: Path, **extra: Any) -> dict[str, Any]:
    """A satellite's mycroft.conf: our WAV microphone, the energy VAD, DEBUG logs, ``extra`` on top."""
    listener = {
        "microphone": {
            "module": "e2e-wav-microphone",
            "e2e-wav-microphone": {"wav_path": str(wav), "chunk_size": CHUNK},
        },
        "VAD": {
            "module": "ovos-vad-plugin-noise",
            "ovos-vad-plugin-noise": {"method": "threshold", "energy_threshold": 300},
        },
        **extra.pop("listener", {}),
    }
    return {"log_level": "DEBUG", "lang": "en-US", "listener": listener, **extra}


class Satellite:
    """One stock satellite process with its own HOME/XDG dirs, mycroft.conf and log.

    ``runner`` "reference" runs ``script`` as installed; "compat" runs it through
    ``python -m hivemind_client.compat --force`` with the repository on PYTHONPATH.
    """

    def __init__(
        self,
        tmp: Path,
        bin_dir: Path,
        runner: str,
        script: str,
        options: list[str],
        conf: dict[str, Any],
    ) -> None:
        self.runner = runner
        self.home = tmp / "home"
        self.log = tmp / "satellite.log"
        conf_path = self.home / ".config" / "mycroft" / "mycroft.conf"
        conf_path.parent.mkdir(parents=True)
        conf_path.write_text(json.dumps(conf, indent=2))
        pythonpath = _plugin_path(tmp)
        if runner == "reference":
            argv = [str(bin_dir / script), *options]
        else:
            argv = [str(bin_dir / "python"), "-m", "hivemind_client.compat", "--force", script,
                    *options]  # fmt: skip
            pythonpath = os.pathsep.join([str(ROOT), pythonpath])
        env = hub_environment(self.home, bin_dir, {"PYTHONPATH": pythonpath})
        self._log_file = open(self.log, "ab", buffering=0)  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            ["timeout", "-k", "5", str(SATELLITE_LIFETIME), *argv],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (only setsid + prctl, no locks taken)
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """Wait for ``pattern`` in the satellite's log; fail early if the process dies."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text())
            if found:
                return found
            if self.proc.poll() is not None:
                pytest.fail(f"the satellite exited ({self.proc.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"no {pattern!r} in the satellite's log after {timeout}s:\n{self.tail()}"
                )
            time.sleep(0.05)

    def check_client(self) -> None:
        """The satellite's client is the one ``runner`` promises.

        The reference's modules log through OVOS's logger, whose lines name them
        (``hivemind_bus_client.protocol:handle_hello:441``); through compat no module of that
        name exists, so no such line can appear.
        """
        reference_lines = re.findall(r"hivemind_bus_client\.\w+:\w+:\d+", self.text())
        if self.runner == "reference":
            assert reference_lines, "the reference client logged nothing: is it running?"
        else:
            assert not reference_lines, f"the reference client ran: {reference_lines[:3]}"

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-n:])

    def close(self) -> None:
        kill_group(self.proc, 5.0, signal.SIGTERM)
        with contextlib.suppress(OSError):
            self._log_file.close()


def _wait(what: str, check: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def mic_sat_bin() -> Path:
    return _ensure_env("mic-sat")


@pytest.fixture(scope="module")
def voice_sat_bin() -> Path:
    return _ensure_env("voice-sat")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingHub]:
    with RecordingHub(tmp_path_factory.mktemp("satellite-hub")) as running:
        yield running


RUNNERS = [
    "reference",
    "compat",
]


def _options(hub: RunningHub, key: str) -> list[str]:
    """The command-line options both satellites take."""
    return [
        "--key", key,
        "--password", DEFAULT_PASSWORD,
        "--host", hub.host,
        "--port", str(hub.port),
        "--siteid", "e2e-kitchen",
    ]  # fmt: skip


@pytest.mark.parametrize("runner", RUNNERS)
def test_mic_satellite_speaks_and_streams_audio(
    runner: str, hub: RecordingHub, mic_sat_bin: Path, tmp_path: Path
) -> None:
    key = "mic" + uuid.uuid4().hex[:13]
    name = f"micsat-{runner}"
    hub.add_client(name, key, DEFAULT_PASSWORD, allow=(*DEFAULT_ALLOWED, "speak:synth"))
    wav = tmp_path / "speech.wav"
    pcm = _speech_wav(wav)

    since = time.time()
    sat = Satellite(
        tmp_path, mic_sat_bin, runner, "hivemind-mic-sat", _options(hub, key), _mycroft_conf(wav)
    )
    try:
        # 1. connected: the satellite says so once connected_event is set, and the hub announced it
        sat.wait_log(r"connected to HiveMind")
        connect = hub.wait_bus_message(
            "hive.client.connect",
            timeout=WAIT,
            predicate=lambda m: m["data"].get("key") == key,
            since=since,
        )
        connected_as = connect["data"]["peer"]  # "USER_AGENT::NODE::NAME::SESSION"
        assert f"::{name}::" in connected_as
        sat.check_client()

        # 2. once the VAD hears the tones, RAW_AUDIO arrives at the hub's binary-data plugin. The
        #    peer id it arrives under is the one the hub routes by: the satellite's HELLO replaced
        #    the session part of the id announced at connect time.
        peers = _wait(
            "RAW_AUDIO at the hub",
            lambda: {p for p in hub.audio_peers() if f"::{name}::" in p},
        )
        assert len(peers) == 1
        peer = peers.pop()
        assert peer.rsplit("::", 1)[0] == connected_as.rsplit("::", 1)[0]
        sat.wait_log(r"Speech start")

        # 3. its on_mycroft("speak") handler fires on a speak from the hub's OVOS bus ...
        utterance = f"hello from the hub to the {runner} satellite"
        hub.bus_emit(
            "speak",
            {"utterance": utterance, "lang": "en-US"},
            {"destination": [peer], "source": "e2e"},
        )
        sat.wait_log(re.escape(f"SPEAK: {utterance}"))

        # ... and the handler asks the hub for TTS audio of that utterance
        synth = hub.wait_bus_message(
            "speak:synth",
            timeout=WAIT,
            predicate=lambda m: m["data"].get("utterance") == utterance,
            since=since,
        )
        assert synth["context"].get("source") == peer

        # 4. the audio streamed from the first speech chunk on arrives byte for byte
        _wait(
            f"{WANT_CHUNKS} RAW_AUDIO chunks at the hub",
            lambda: len(hub.audio_chunks(peer)) >= WANT_CHUNKS,
        )
    finally:
        sat.close()

    chunks = hub.audio_chunks(peer)
    assert {(c["peer"], c["bytes"], c["sample_rate"], c["sample_width"]) for c in chunks} == {
        (peer, CHUNK, SAMPLE_RATE, 2)
    }
    received = hub.audio_bytes(peer)
    assert len(received) == CHUNK * len(chunks)
    start = LEAD_SILENCE_CHUNKS * CHUNK  # the VAD hears nothing before the tones start
    expected = (pcm + bytes(len(received)))[start : start + len(received)]
    assert received == expected, "the audio at the hub is not what the satellite's microphone read"


#: What our STT plugin hears in any audio.
TRANSCRIPT = "what time is it on the satellite"
#: The wake words in ovos-config's defaults. Switched off: their plugins download models (and
#: the test listens continuously, without a wake word).
DEFAULT_HOTWORDS = (
    "hey_mycroft",
    "hey_mycroft_wakehubert_streaming",
    "hey_mycroft_wakehubert",
    "hey_mycroft_vosk",
    "wake_up",
    "wake_up_vosk",
    "stop_recording",
    "stop_recording_vosk",
)


def _speech_trace(path: Path) -> list[dict[str, Any]]:
    """What our STT and TTS plugins did so far (see e2e_speech_plugins.py)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("runner", RUNNERS)
def test_voice_satellite_hears_and_answers(
    runner: str, hub: RecordingHub, voice_sat_bin: Path, tmp_path: Path
) -> None:
    key = "voice" + uuid.uuid4().hex[:11]
    name = f"voicesat-{runner}"
    hub.add_client(name, key, DEFAULT_PASSWORD)  # utterances only: the rest is refused
    wav = tmp_path / "speech.wav"
    _speech_wav(wav)
    trace = tmp_path / "speech-trace.jsonl"
    conf = _mycroft_conf(
        wav,
        listener={"continuous_listen": True},
        stt={
            "module": "e2e-fixed-stt",
            "e2e-fixed-stt": {"transcript": TRANSCRIPT, "trace_file": str(trace)},
        },
        tts={"module": "e2e-trace-tts", "e2e-trace-tts": {"trace_file": str(trace)}},
        hotwords={word: {"active": False} for word in DEFAULT_HOTWORDS},
        play_wav_cmdline="true %1",
    )

    since = time.time()
    sat = Satellite(tmp_path, voice_sat_bin, runner, "hivemind-voice-sat", _options(hub, key), conf)
    try:
        # 1. connected
        connect = hub.wait_bus_message(
            "hive.client.connect",
            timeout=WAIT,
            predicate=lambda m: m["data"].get("key") == key,
            since=since,
        )
        connected_as = connect["data"]["peer"]
        assert f"::{name}::" in connected_as

        # 2. the hub refuses the listener's and audio service's own traffic, and says so
        sat.wait_log(r"HiveMind hub denied '[^']+' \(code=acl_disallowed_type\)")
        sat.check_client()

        # 3. what it heard reaches the hub's bus as an utterance (newer OVOS listeners send
        #    ovos.utterance.handle, older ones recognizer_loop:utterance; the hub allows both)
        heard = _wait(
            "the satellite's utterance on the hub's bus",
            lambda: next(
                (
                    m
                    for m in hub.bus_messages()
                    if m["type"] in DEFAULT_ALLOWED
                    and m.get("t", 0) >= since
                    and f"::{name}::" in str(m["context"].get("source"))
                ),
                None,
            ),
        )
        assert heard["data"]["utterances"] == [TRANSCRIPT]
        peer = heard["context"]["source"]
        assert peer.rsplit("::", 1)[0] == connected_as.rsplit("::", 1)[0]

        # 4. the hub's answer comes back and the satellite's audio service synthesises it
        _wait(
            "the answer to reach the satellite's TTS",
            lambda: [
                e
                for e in _speech_trace(trace)
                if e["plugin"] == "tts" and e["sentence"] == f"echo: {TRANSCRIPT}"
            ],
            timeout=10.0,  # the satellite is up and the hub answers at once: no import time here
        )
    finally:
        sat.close()

    heard_audio = [e["bytes"] for e in _speech_trace(trace) if e["plugin"] == "stt"]
    assert heard_audio, "the satellite's STT never ran"
    assert heard_audio[0] >= SPEECH_CHUNKS * CHUNK, "the STT got less audio than the speech"
