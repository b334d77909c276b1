"""The reference clients' ``connect(bus, protocol, site_id, handshake_max_retries)`` through
hivemind_client.compat, against a websocket hub on loopback: the reference's own scripts call
``node.connect(FakeBus(), site_id=...)``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hivemind_client import Message, compat
from hivemind_client.api.handlers import LocalBus
from hivemind_client.errors import InvalidArgument
from tests.sync.misbehaving_hub import FAST_RECONNECT, HubConnection, MisbehavingHub, speak


@pytest.fixture
def ref() -> Iterator[Any]:
    assert compat.install() is True
    import hivemind_bus_client

    yield hivemind_bus_client
    compat.uninstall()


async def _greet(conn: HubConnection) -> None:
    await conn.handshake()
    await conn.send_sealed(speak("to the bus given to connect"))
    await conn.serve()


def _options(hub: MisbehavingHub) -> dict[str, Any]:
    return {"key": "compat-key", "password": hub.password, "host": hub.host, "port": hub.port,
            "reconnect": FAST_RECONNECT, "handshake_timeout": 5.0}


def _heard(bus: LocalBus) -> threading.Event:
    heard = threading.Event()
    bus.on("speak", lambda message: heard.set())
    return heard


def test_the_threaded_client_takes_a_bus_and_a_site_positionally(ref: Any) -> None:
    from hivemind_bus_client.client import HiveMessageBusClient

    with MisbehavingHub(_greet) as hub:
        client = HiveMessageBusClient(**_options(hub))
        try:
            node_bus = LocalBus()
            heard = _heard(node_bus)
            info = client.connect(node_bus, None, "kitchen", 3)
            assert info.hub_node_id == "misbehaving-hub" and client.site_id == "kitchen"
            assert heard.wait(10)
        finally:
            client.close()


def test_the_asyncio_client_takes_a_bus(ref: Any) -> None:
    from hivemind_bus_client.async_client import AsyncHiveMessageBusClient

    async def run(hub: MisbehavingHub) -> bool:
        client = AsyncHiveMessageBusClient(**_options(hub))
        try:
            node_bus = LocalBus()
            heard = _heard(node_bus)
            await client.connect(bus=node_bus, site_id="hall")
            deadline = time.monotonic() + 10
            while not heard.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return heard.is_set() and client.site_id == "hall"
        finally:
            await client.close()

    with MisbehavingHub(_greet) as hub:
        assert asyncio.run(run(hub))


def test_a_protocol_object_is_refused_before_anything_is_opened(ref: Any) -> None:
    from hivemind_bus_client.client import HiveMessageBusClient
    from hivemind_bus_client.http_client import HiveMindHTTPClient

    options = {"key": "k", "password": "p", "host": "127.0.0.1", "port": 9}
    for cls in (HiveMessageBusClient, HiveMindHTTPClient):
        client = cls(**options)
        with pytest.raises(InvalidArgument, match="protocol"):
            client.connect(Message("not a bus"), object())
        assert not client.connected
