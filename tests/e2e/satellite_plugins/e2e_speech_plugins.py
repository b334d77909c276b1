"""OVOS STT and TTS plugins for the voice-satellite e2e test: offline, and they leave a trace.

Run inside a satellite's environment (``.venvs/voice-sat``), never in ours; found like
e2e_wav_microphone.py, under the names ``e2e-fixed-stt`` and ``e2e-trace-tts``. The stock voice
satellite's default STT and TTS plugins call public servers and its wake-word plugin downloads a
model, none of which this machine can reach; these two stand in for the first two.

``e2e-fixed-stt`` hears any audio as ``transcript`` (its config), and appends the number of
audio bytes it was given to ``trace_file``. ``e2e-trace-tts`` writes a short silent WAV for
every sentence and appends the sentence to ``trace_file``. One JSON object a line:
{"plugin": "stt" | "tts", ...}.
"""

from __future__ import annotations

import json
import threading
import wave
from typing import Any

from ovos_plugin_manager.templates.stt import STT
from ovos_plugin_manager.templates.tts import TTS

_LOCK = threading.Lock()


def _trace(path: str, entry: dict[str, Any]) -> None:
    with _LOCK, open(path, "a", encoding="utf-8") as trace:
        trace.write(json.dumps(entry) + "\n")


class FixedSTT(STT):
    """Transcribes every utterance as the configured ``transcript``."""

    def execute(self, audio: Any, language: str | None = None) -> str:
        frames = getattr(audio, "frame_data", b"") or b""
        transcript = str(self.config.get("transcript", ""))
        _trace(
            self.config["trace_file"],
            {"plugin": "stt", "bytes": len(frames), "lang": language, "transcript": transcript},
        )
        return transcript

    @property
    def available_languages(self) -> set[str]:
        return {"en-US"}


class TraceTTS(TTS):
    """Synthesises every sentence as 0.1 s of silence."""

    def get_tts(
        self, sentence: str, wav_file: str, lang: str | None = None, voice: str | None = None
    ) -> tuple[str, None]:
        with wave.open(wav_file, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(16000)
            wav.writeframes(bytes(3200))
        _trace(self.config["trace_file"], {"plugin": "tts", "sentence": sentence, "lang": lang})
        return wav_file, None

    @property
    def available_languages(self) -> set[str]:
        return {"en-US"}
