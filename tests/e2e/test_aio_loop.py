"""End to end: the asyncio client never blocks its event loop, against real hubs.

The whole life of a session (connect with the v1 password handshake or the v3 Noise handshake,
whose key derivations, PBKDF2 and argon2id, are the slowest steps a client takes; round trips;
a BINARY frame; close) runs in asyncio debug mode, and any loop step over 50 ms, less the time
the kernel had the thread preempted, fails the test (tests/aio/slow_steps.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from hivemind_client import HiveMessage, Message
from hivemind_client.aio import AsyncHiveMessageBusClient
from tests.aio.slow_steps import SLOW_CALLBACK, SlowSteps, slow_steps

from .hubs import DEFAULT_PASSWORD, RunningHub

__all__ = ["slow_steps"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["4.0", "5.3"])
def hub(request: pytest.FixtureRequest) -> Iterator[RunningHub]:
    with RunningHub(request.param, binarize=True) as running:
        yield running


def test_a_whole_session_never_blocks_the_loop(hub: RunningHub, slow_steps: SlowSteps) -> None:
    key = "aio" + uuid.uuid4().hex[:13]
    hub.add_client(f"sat-{key}", key, DEFAULT_PASSWORD)

    async def main() -> list[str]:
        asyncio.get_running_loop().slow_callback_duration = SLOW_CALLBACK
        heard: list[str] = []
        async with AsyncHiveMessageBusClient(
            key=key, password=DEFAULT_PASSWORD, host=hub.host, port=hub.port
        ) as client:

            async def on_speak(message: Message) -> None:
                heard.append(message.data["utterance"])

            client.on_mycroft("speak", on_speak)
            info = await client.connect(site_id="loop", timeout=30)
            assert info.protocol_version == (3 if hub.version == "5.3" else 2)
            for n in range(5):
                text = f"loop {n}"
                answer = await client.wait_for_response(
                    Message("recognizer_loop:utterance", {"utterances": [text], "lang": "en"}),
                    "speak",
                    timeout=15,
                )
                assert answer is not None and answer.data["utterance"] == f"echo: {text}"
            await client.emit(HiveMessage("bin", bytes(64 * 1024), bin_type=1))
            last = Message("recognizer_loop:utterance", {"utterances": ["after"], "lang": "en"})
            assert await client.wait_for_response(last, "speak", timeout=15) is not None
        return heard

    heard = asyncio.run(main(), debug=True)
    assert "echo: after" in heard
    assert slow_steps.reports == [], slow_steps.reports
