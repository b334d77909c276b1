"""The OVOS ``MessageBusClient`` surface of ``HiveMessageBusClient``, against a real websocket
hub on loopback: what hivemind-mic-satellite, hivemind-voice-sat and the OVOS services they
hand the client to (PHAL, the listener, playback) call on their ``bus``."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from hivemind_client import HiveMessage, Message
from hivemind_client.api.handlers import BinaryDataCallbacks, LocalBus
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

from .misbehaving_hub import HubConnection, MisbehavingHub
from .misbehaving_hub import client_for as _client
from .misbehaving_hub import speak as _speak

pytestmark = pytest.mark.usefixtures("no_thread_leak")


def _until(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


async def _echo_utterances(conn: HubConnection) -> None:
    """A hub whose bus answers every utterance with ``speak`` and every ``ping.test`` with
    ``ping.test.response`` (and ``ping.test.other`` for ``ping.other``)."""
    await conn.handshake()
    while True:
        message = await conn.recv()
        if message.msg_type is not HiveMessageType.BUS:
            continue
        payload = message.payload
        if payload.msg_type == "recognizer_loop:utterance":
            await conn.send_sealed(_speak(f"echo: {payload.data['utterances'][0]}"))
        elif payload.msg_type == "ping.test":
            await conn.send_sealed(HiveMessage("bus", Message("ping.test.response", {"n": 1})))
        elif payload.msg_type == "ping.other":
            await conn.send_sealed(HiveMessage("bus", Message("ping.test.other", {"n": 2})))


def test_the_mic_satellite_sequence() -> None:
    """hivemind-mic-satellite 0.10: build with bin_callbacks and internal_bus, connect() with no
    arguments, connected_event.wait(), on_mycroft handlers, speak -> a TTS request, and
    RAW_AUDIO chunks with their metadata."""

    class Tts(BinaryDataCallbacks):
        pass

    with MisbehavingHub(_echo_utterances) as hub:
        internal = LocalBus()
        client = _client(hub, bin_callbacks=Tts(), internal_bus=internal)
        try:
            client.connect()
            assert client.connected_event.wait(5)
            spoken: list[Message] = []

            def handle_speak(message: Message) -> None:
                spoken.append(message)
                client.emit(
                    HiveMessage(
                        HiveMessageType.BUS, payload=message.reply("speak:synth", message.data)
                    )
                )

            client.on_mycroft("speak", handle_speak)
            client.emit(Message("recognizer_loop:utterance", {"utterances": ["hello"]}))
            assert _until(lambda: [m.data["utterance"] for m in spoken] == ["echo: hello"])
            metadata = {"sample_rate": 16000, "sample_width": 2}
            for chunk in (b"\x01\x02" * 800, b"\x03\x04" * 800):
                client.emit(
                    HiveMessage(msg_type=HiveMessageType.BINARY, payload=chunk, metadata=metadata),
                    binary_type=BinaryPayloadType.RAW_AUDIO,
                )
            assert _until(lambda: len(hub.messages("bin")) == 2)
            assert _until(
                lambda: any(m.payload.msg_type == "speak:synth" for m in hub.messages("bus"))
            )
        finally:
            client.close()
        audio = hub.messages("bin")
        assert [m.bin_type for m in audio] == [BinaryPayloadType.RAW_AUDIO] * 2
        assert [m.raw_payload for m in audio] == [b"\x01\x02" * 800, b"\x03\x04" * 800]
        assert all(m.metadata == metadata for m in audio)
        assert not client.connected_event.is_set()


def test_run_in_thread_then_connected_event_as_ovos_services_do() -> None:
    """PHAL, ovos-audio and the listener: ``if not bus.started_running: bus.run_in_thread()``,
    then ``bus.connected_event.wait()``, then emit."""
    with MisbehavingHub(_echo_utterances) as hub, _client(hub) as client:
        opened = threading.Event()
        client.emitter.on("open", opened.set)
        assert not client.started_running
        thread = client.run_in_thread()
        assert isinstance(thread, threading.Thread) and thread.is_alive()
        assert client.started_running
        assert client.connected_event.wait(10)
        assert opened.wait(5)
        answer = client.wait_for_response(
            Message("recognizer_loop:utterance", {"utterances": ["threaded"]}), "speak", timeout=5
        )
        assert isinstance(answer, Message) and answer.data["utterance"] == "echo: threaded"


def test_run_forever_blocks_until_the_client_is_closed() -> None:
    with MisbehavingHub(_echo_utterances) as hub, _client(hub) as client:
        returned = threading.Event()

        def run() -> None:
            client.run_forever()
            returned.set()

        runner = threading.Thread(target=run)
        runner.start()
        assert client.connected_event.wait(10)
        assert not returned.wait(0.3)
        client.close()
        assert returned.wait(5)
        runner.join(5)


def test_emitter_reports_close_and_reconnecting_then_open_again() -> None:
    async def drop_first(conn: HubConnection) -> None:
        await conn.handshake()
        if conn.index == 0:
            await conn.ws.close()
            return
        await conn.serve()

    with MisbehavingHub(drop_first) as hub, _client(hub) as client:
        events: list[str] = []
        for name in ("open", "close", "reconnecting", "auth_rejected"):
            client.emitter.on(name, lambda *_args, name=name: events.append(name))
        client.connect()
        assert _until(lambda: events == ["open", "close", "reconnecting", "open"])
        assert client.connected_event.is_set()


def test_auth_rejected_when_the_hub_refuses_the_key() -> None:
    """hivemind-core closes with 1008 for an unknown access key: nothing more is tried."""

    async def refuse(conn: HubConnection) -> None:
        await conn.ws.close(1008, "invalid api key")

    with MisbehavingHub(refuse) as hub, _client(hub) as client:
        reasons: list[str] = []
        closed = threading.Event()
        client.emitter.once("auth_rejected", reasons.append)
        client.emitter.on("close", closed.set)
        client.run_in_thread()
        assert closed.wait(10)
        assert len(reasons) == 1 and "1008" in reasons[0]
        assert not client.connected_event.is_set()
        time.sleep(0.3)
        assert hub.connections == 1


def test_on_once_remove_and_remove_all_listeners_for_ovos_types() -> None:
    async def speak_on_request(conn: HubConnection) -> None:
        await conn.handshake()
        while True:
            message = await conn.recv()
            if message.msg_type is HiveMessageType.BUS:
                await conn.send_sealed(_speak(message.payload.data["utterances"][0]))

    with MisbehavingHub(speak_on_request) as hub, _client(hub) as client:
        client.connect()
        every: list[str] = []
        first: list[str] = []
        removed: list[str] = []

        def remove_me(message: Message) -> None:
            removed.append(message.data["utterance"])

        client.on("speak", lambda m: every.append(m.data["utterance"]))
        client.once("speak", lambda m: first.append(m.data["utterance"]))
        client.on("speak", remove_me)
        client.remove("speak", remove_me)
        for text in ("one", "two"):
            client.emit(Message("recognizer_loop:utterance", {"utterances": [text]}))
            assert _until(lambda text=text: every[-1:] == [text])
        client.remove_all_listeners("speak")
        three = Message("recognizer_loop:utterance", {"utterances": ["three"]})
        assert client.wait_for_response(three, "speak", timeout=5) is not None  # it did arrive
        assert (every, first, removed) == (["one", "two"], ["one"], [])


def test_wait_for_message_and_response_take_ovos_types() -> None:
    with MisbehavingHub(_echo_utterances) as hub, _client(hub) as client:
        client.connect()
        waiting: list[Any] = []
        waiter = threading.Thread(
            target=lambda: waiting.append(client.wait_for_message("speak", 5))
        )
        waiter.start()
        time.sleep(0.2)
        client.emit(Message("recognizer_loop:utterance", {"utterances": ["waited"]}))
        waiter.join(10)
        assert isinstance(waiting[0], Message) and waiting[0].data["utterance"] == "echo: waited"
        # the default reply type, and a list of reply types, as an OVOS bus takes them
        answer = client.wait_for_response(Message("ping.test"), timeout=5)
        assert isinstance(answer, Message) and answer.msg_type == "ping.test.response"
        answer = client.wait_for_response(
            Message("ping.other"), ["ping.test.other", "nothing"], timeout=5
        )
        assert isinstance(answer, Message) and answer.msg_type == "ping.test.other"
        # a HiveMessage type still names a HiveMessage
        assert client.wait_for_message(HiveMessageType.PING, timeout=0.1) is None


def test_emit_also_reaches_local_handlers_as_on_an_ovos_bus() -> None:
    """A satellite's own services talk to each other through the client: what one emits,
    the others hear (and the hub gets it too)."""
    with MisbehavingHub(_echo_utterances) as hub, _client(hub, share_bus=True) as client:
        client.connect()
        heard: list[Message] = []
        client.on("mycroft.volume.get", heard.append)
        client.emit(Message("mycroft.volume.get", {"x": 1}))
        assert [m.data for m in heard] == [{"x": 1}]
        assert _until(lambda: len(hub.messages("bus")) == 1)
        time.sleep(0.2)
        assert hub.messages("shared_bus") == []  # our own emit is not shared a second time


def test_close_connection_reconnects_and_wait_for_handshake() -> None:
    async def serve(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.serve()

    with MisbehavingHub(serve) as hub, _client(hub) as client:
        client.run_in_thread()
        assert client.wait_for_handshake(10)
        reconnecting = threading.Event()
        client.emitter.on("reconnecting", reconnecting.set)
        client.close_connection()
        assert reconnecting.wait(5)
        assert _until(lambda: hub.connections == 2 and client.connected_event.is_set())
        assert client.flush() and not client.stopping
    assert client.stopping


def test_the_local_bus_reaches_the_hub_as_an_ovos_bus_bridge_does(driver: str) -> None:
    """A satellite's local services answer the hub through the local bus: a message whose
    ``destination`` names the hub goes up as BUS, and ``hive.send.upstream`` sends the
    HiveMessage it describes; other local traffic stays local (share_bus is off)."""

    async def serve(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.serve()

    with MisbehavingHub(serve) as hub, _client(hub, driver=driver) as client:
        info = client.connect()
        assert info.hub_node_id == "misbehaving-hub"
        bus = client.internal_bus
        bus.emit(Message("local.only", {"n": 0}))
        bus.emit(Message("skill.reply", {"n": 1}, {"destination": ["misbehaving-hub"]}))
        bus.emit(Message("skill.other", {"n": 2}, {"destination": "another-node"}))
        inner = {"type": "upstream.request", "data": {"n": 3}, "context": {}}
        bus.emit(Message("hive.send.upstream", {"msg_type": "bus", "payload": inner}))
        wrapped = {"msg_type": "bus", "payload": inner}
        bus.emit(Message("hive.send.upstream", {"msg_type": "broadcast", "payload": wrapped}))
        bus.emit(Message("hive.send.upstream", {"payload": inner}))  # malformed: logged, dropped
        assert _until(lambda: len(hub.messages("bus")) == 2)
        time.sleep(0.3)
        sent = [m.payload for m in hub.messages("bus")]
        assert [(m.msg_type, m.data) for m in sent] == [
            ("skill.reply", {"n": 1}),
            ("upstream.request", {"n": 3}),
        ]
        assert hub.messages("broadcast") == [] and hub.messages("shared_bus") == []


def test_a_bridged_bus_hears_the_hub_and_speaks_to_it(driver: str) -> None:
    """``bridge_bus``: a second OVOS bus (a node's own ovos-core bus) gets the hub's bus
    messages as ``internal_bus`` does, and its replies for the hub go up."""
    speak_sent = threading.Event()

    async def serve(conn: HubConnection) -> None:
        await conn.handshake()
        await conn.recv()  # the client's "ready" message: bridging is in place by then
        await conn.send_sealed(_speak("hello both buses"))
        speak_sent.set()
        await conn.serve()

    with MisbehavingHub(serve) as hub, _client(hub, driver=driver) as client:
        node_bus = LocalBus()
        heard_internal: list[Message] = []
        heard_node: list[Message] = []
        client.internal_bus.on("speak", heard_internal.append)
        node_bus.on("speak", heard_node.append)
        client.bridge_bus(node_bus)
        client.bridge_bus(node_bus)  # once is enough: no second delivery
        client.bridge_bus(client.internal_bus)  # already joined
        client.connect()
        client.emit(Message("ready"))
        assert speak_sent.wait(10)
        assert _until(lambda: heard_internal and heard_node)
        time.sleep(0.2)
        assert [m.data["utterance"] for m in heard_node] == ["hello both buses"]
        assert len(heard_internal) == 1
        node_bus.emit(Message("skill.reply", {"n": 1}, {"destination": "misbehaving-hub"}))
        assert _until(lambda: [m.payload.msg_type for m in hub.messages("bus")][-1:] == ["skill.reply"])
