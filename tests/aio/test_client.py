"""The asyncio client's own behaviour: coroutine handlers, ``messages()``, cancellation, and
no blocking step on the event loop (asyncio debug mode). The behaviour it shares with the
threaded client is tested once for both, in tests/sync (the ``driver`` fixture)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from hivemind_client.aio.client import AsyncHiveMessageBusClient
from hivemind_client.errors import ConnectionFailed, NotConnected
from hivemind_client.wire.message import HiveMessage, Message
from tests.sync.misbehaving_hub import FAST_RECONNECT, HubConnection, MisbehavingHub, speak

from .slow_steps import SLOW_CALLBACK, SlowSteps


def _client(hub: MisbehavingHub, **options: Any) -> AsyncHiveMessageBusClient:
    options.setdefault("reconnect", FAST_RECONNECT)
    options.setdefault("handshake_timeout", 2.0)
    return AsyncHiveMessageBusClient(
        key="misbehaving-key", password=hub.password, host=hub.host, port=hub.port, **options
    )


def _run(coroutine: Any) -> Any:
    """Run in a fresh loop with debug mode on and the 50 ms slow-step threshold."""

    async def main() -> Any:
        asyncio.get_running_loop().slow_callback_duration = SLOW_CALLBACK
        return await coroutine

    return asyncio.run(main(), debug=True)


async def _question_answerer(conn: HubConnection) -> None:
    """Handshake, say something, then answer every "question" with its response."""
    await conn.handshake()
    await conn.send_sealed(speak("hello"))
    with contextlib.suppress(ConnectionClosed):
        while True:
            message = await conn.recv()
            payload = message.payload
            if message.msg_type.value == "bus" and getattr(payload, "msg_type", "") == "question":
                reply = Message("question.response", {"n": payload.data["n"]})
                await conn.send_sealed(HiveMessage("bus", reply))


def test_a_coroutine_handler_may_await_an_answer_and_nothing_blocks_the_loop(
    slow_steps: SlowSteps,
) -> None:
    answers: list[Any] = []

    async def main(hub: MisbehavingHub) -> None:
        async with _client(hub) as client:

            async def on_speak(message: Message) -> None:
                answers.append(await client.wait_for_response(Message("question", {"n": 1})))

            client.on_mycroft("speak", on_speak)
            await client.connect()
            for _ in range(200):
                if answers:
                    break
                await asyncio.sleep(0.05)
            direct = await client.wait_for_response(Message("question", {"n": 2}), timeout=5)
            assert isinstance(direct, Message) and direct.data == {"n": 2}

    with MisbehavingHub(_question_answerer) as hub:
        _run(main(hub))
    assert len(answers) == 1 and isinstance(answers[0], Message)
    assert answers[0].data == {"n": 1}
    assert slow_steps.reports == []  # the v1 key (PBKDF2) was derived in the executor


def test_messages_yields_every_message_in_order_until_close() -> None:
    count = 50

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        for n in range(count):
            await conn.send_sealed(speak(f"n{n}"))
        await conn.serve()

    async def main(hub: MisbehavingHub) -> list[str]:
        client = _client(hub)
        await client.connect()
        seen: list[str] = []

        async def consume() -> None:
            async for message in client.messages():
                seen.append(message.payload.data["utterance"])
                if len(seen) == count:
                    await client.close()

        await asyncio.wait_for(consume(), 10)  # ends because close() ends the iteration
        return seen

    with MisbehavingHub(script) as hub:
        seen = _run(main(hub))
    assert seen == [f"n{n}" for n in range(count)]


def test_cancelling_connect_leaves_nothing_running() -> None:
    async def silent(conn: HubConnection) -> None:
        await conn.wait_closed()  # never says hello

    async def main(hub: MisbehavingHub) -> None:
        client = _client(hub, handshake_timeout=30)
        task = asyncio.ensure_future(client.connect(timeout=30))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not client.connected
        with pytest.raises(NotConnected):
            await client.emit(Message("after"))
        await asyncio.sleep(0.1)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == []  # no connection, writer, ping or side-effect task left

    with MisbehavingHub(silent) as hub:
        _run(main(hub))
        assert hub.wait_for(lambda: hub.connections == 1 and len(hub.close_codes) == 1)


def test_cancelling_a_wait_removes_its_waiter() -> None:
    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.serve()

    async def main(hub: MisbehavingHub) -> None:
        async with _client(hub) as client:
            await client.connect()
            task = asyncio.ensure_future(client.wait_for_mycroft("never", timeout=30))
            await asyncio.sleep(0.1)
            assert len(client._core.waiters()) == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client._core.waiters() == ()

    with MisbehavingHub(script) as hub:
        _run(main(hub))


def test_slow_coroutine_handlers_pause_reading_at_the_bound() -> None:
    """Handler tasks are bounded (max_pending_handlers): past it the client stops reading and
    the hub's writes back up, instead of tasks piling up without limit."""
    flood, bound = 400, 10
    sent: list[int] = []

    async def script(conn: HubConnection) -> None:
        await conn.handshake()
        for n in range(flood):
            await conn.send_sealed(speak(f"flood {n}"))
            sent.append(n)
        await conn.serve()

    async def main(hub: MisbehavingHub) -> tuple[int, int]:
        release = asyncio.Event()
        peak = 0
        async with _client(hub, max_pending_handlers=bound) as client:

            async def slow(message: Message) -> None:
                await release.wait()

            client.on_mycroft("speak", slow)
            await client.connect()
            for _ in range(40):
                await asyncio.sleep(0.05)
                peak = max(peak, len(client._handler_tasks))
            release.set()
            return peak, len(client._handler_tasks)

    with MisbehavingHub(script) as hub:
        peak, _ = _run(main(hub))
    assert peak <= bound


def test_a_refused_connect_is_a_typed_error() -> None:
    async def main() -> None:
        client = AsyncHiveMessageBusClient(key="k", password="p", host="127.0.0.1", port=1)
        with pytest.raises(ConnectionFailed):
            await client.connect(timeout=5)
        await client.close()

    _run(main())
