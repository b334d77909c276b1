"""An OVOS microphone plugin that plays a WAV file in real time, then silence (e2e tests only).

Runs inside a satellite's environment (``.venvs/mic-sat``), never in ours. The e2e test puts this
directory on the satellite's PYTHONPATH and writes a ``*.dist-info/entry_points.txt`` next to it,
so ovos-plugin-manager finds the plugin under the name ``e2e-wav-microphone`` without an install.

Why our own and not ``ovos-microphone-plugin-files``: that plugin's ``read_chunk`` returns None at
once while no file is queued, and the mic satellite's listener loop retries at once, so the
satellite spins a core for the whole test. This one paces every chunk at the audio's own rate
(as a sound card would) and keeps producing silence after the file, like a quiet room.

mycroft.conf::

    "listener": {"microphone": {"module": "e2e-wav-microphone",
                                "e2e-wav-microphone": {"wav_path": "/path/to/speech.wav"}}}
"""

from __future__ import annotations

import time
import wave
from dataclasses import dataclass

from ovos_plugin_manager.templates.microphone import Microphone


@dataclass
class WavMicrophone(Microphone):
    """Chunks of ``wav_path`` (mono, 16-bit, its own sample rate), then zeros, at real-time pace."""

    wav_path: str = ""
    _frames: bytes = b""
    _offset: int = 0
    _next_due: float = 0.0
    _running: bool = False

    def start(self) -> None:
        """Read the whole WAV and take its format as the microphone's."""
        with wave.open(self.wav_path, "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise ValueError(f"{self.wav_path}: need mono 16-bit PCM")
            self.sample_rate = wav.getframerate()
            self.sample_width = wav.getsampwidth()
            self.sample_channels = 1
            self._frames = wav.readframes(wav.getnframes())
        self._offset = 0
        self._next_due = time.monotonic()
        self._running = True

    def read_chunk(self) -> bytes | None:
        """The next ``chunk_size`` bytes, no sooner than a real microphone would deliver them."""
        if not self._running:
            return None
        delay = self._next_due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_due += self.seconds_per_chunk
        chunk = self._frames[self._offset : self._offset + self.chunk_size]
        self._offset += len(chunk)
        return chunk + bytes(self.chunk_size - len(chunk))

    def stop(self) -> None:
        self._running = False
