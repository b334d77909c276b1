"""The 1.2 client's keepalive and connect-timeout keywords, on every client's constructor."""

from __future__ import annotations

from typing import Any

import pytest

from hivemind_client.aio.client import AsyncHiveMessageBusClient
from hivemind_client.errors import InvalidArgument
from hivemind_client.http.client import HiveMindHTTPClient
from hivemind_client.sync.client import HiveMessageBusClient

CLIENTS = pytest.mark.parametrize(
    "cls", [HiveMessageBusClient, AsyncHiveMessageBusClient, HiveMindHTTPClient]
)
KEY = bytes(32)


def _client(cls: type[Any], **options: Any) -> Any:
    return cls(key="k", password="p", host="ws://127.0.0.1", port=5678, **options)


@CLIENTS
def test_websocket_keywords_map_onto_the_keepalive_settings(cls: type[Any]) -> None:
    client = _client(
        cls, websocket_ping_interval=7, websocket_ping_timeout=3, websocket_connect_timeout=2
    )
    assert (client.ping_interval, client.pong_timeout, client.connect_timeout) == (7.0, 3.0, 2)
    assert (
        client.websocket_ping_interval,
        client.websocket_ping_timeout,
        client.websocket_connect_timeout,
    ) == (7.0, 3.0, 2)


@CLIENTS
def test_none_keeps_the_defaults(cls: type[Any]) -> None:
    client = _client(cls, websocket_ping_interval=None, websocket_ping_timeout=None)
    default = _client(cls)
    assert (client.ping_interval, client.pong_timeout, client.connect_timeout) == (
        default.ping_interval,
        default.pong_timeout,
        default.connect_timeout,
    )


def test_a_zero_interval_turns_pings_off_and_a_zero_timeout_the_pong_deadline() -> None:
    client = _client(HiveMessageBusClient, websocket_ping_interval=0, websocket_ping_timeout=0)
    config = client._satellite_config(KEY)
    assert config.keepalive is False and config.pong_timeout is None


def test_ping_interval_zero_means_no_pings() -> None:
    """Before, ``ping_interval=0`` asked for a ping on every timer tick."""
    config = _client(HiveMessageBusClient, ping_interval=0)._satellite_config(KEY)
    assert config.keepalive is False


def test_the_connect_timeout_also_bounds_the_hubs_first_message() -> None:
    client = _client(HiveMessageBusClient)
    client.websocket_connect_timeout = 0.5  # the 1.2 client's attribute, set after building
    assert client.connect_timeout == 0.5
    assert client._satellite_config(KEY).first_frame_timeout == 0.5
    client.websocket_connect_timeout = None
    assert client._satellite_config(KEY).first_frame_timeout is None
    http = _client(HiveMindHTTPClient, websocket_connect_timeout=0.5)
    assert http._satellite_config(KEY).first_frame_timeout is None  # polls: http_timeout


def test_the_attributes_set_after_building_are_checked_too() -> None:
    client = _client(HiveMessageBusClient)
    client.websocket_ping_interval = 5
    client.websocket_ping_timeout = 0
    assert (client.ping_interval, client.pong_timeout) == (5.0, None)
    with pytest.raises(InvalidArgument):
        client.websocket_ping_interval = -1


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), "5", True])
def test_a_bad_value_is_refused(value: Any) -> None:
    with pytest.raises(InvalidArgument):
        _client(HiveMessageBusClient, websocket_ping_interval=value)
    with pytest.raises(InvalidArgument):
        _client(HiveMessageBusClient, websocket_ping_timeout=value)


def test_setting_none_restores_the_default_as_the_constructor_reads_it() -> None:
    client = _client(HiveMessageBusClient, websocket_ping_interval=3, websocket_ping_timeout=1)
    client.websocket_ping_interval = None
    client.websocket_ping_timeout = None
    default = _client(HiveMessageBusClient)
    assert (client.ping_interval, client.pong_timeout) == (
        default.ping_interval,
        default.pong_timeout,
    )
