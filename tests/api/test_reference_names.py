"""Names of the reference 1.2 client that a user calls: ``build_url``."""

from __future__ import annotations

import base64

import pytest

from hivemind_client.errors import InvalidArgument
from hivemind_client.sync.client import HiveMessageBusClient


def _authorization(url: str) -> str:
    return base64.b64decode(url.split("authorization=", 1)[1]).decode()


def test_build_url_is_static_and_takes_the_references_arguments() -> None:
    url = HiveMessageBusClient.build_url("abc", "1.2.3.4", 5678, "MyUA", ssl=True)
    assert url.startswith("wss://1.2.3.4:5678")
    assert _authorization(url) == "MyUA:abc"
    assert HiveMessageBusClient.build_url("abc", "h", 1, ssl=False).startswith("ws://h:1")
    assert HiveMessageBusClient.build_url("abc", "ws://h", 1).startswith("ws://h:1")


def test_build_url_refuses_a_user_agent_with_a_colon() -> None:
    with pytest.raises(InvalidArgument):
        HiveMessageBusClient.build_url("abc", "h", 1, "a:b")
