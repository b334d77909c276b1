"""``ClientBase``'s identity defaults: without ``identity=`` a client reads the identity file."""

from __future__ import annotations

from pathlib import Path

import pytest

from hivemind_client.errors import InvalidArgument
from hivemind_client.identity import NodeIdentity, default_identity_path
from hivemind_client.identity.stores import IdentityNoiseStore
from hivemind_client.sync.client import HiveMessageBusClient


def test_no_identity_reads_the_shared_identity_file() -> None:
    shared = NodeIdentity()
    shared.access_key, shared.password, shared.site_id = "from-file", "secret", "attic"
    shared.default_master, shared.default_port = "hub.example", 5999
    shared.save()
    client = HiveMessageBusClient()
    assert isinstance(client.identity, NodeIdentity)
    assert client.identity.path == default_identity_path()
    assert (client.key, client.password, client.host, client.port, client.site_id) == (
        "from-file",
        "secret",
        "hub.example",
        5999,
        "attic",
    )
    assert isinstance(client.noise_store, IdentityNoiseStore)


def test_explicit_arguments_override_the_identity_file() -> None:
    shared = NodeIdentity()
    shared.access_key, shared.password = "from-file", "secret"
    shared.save()
    client = HiveMessageBusClient(key="given", password="pw", host="10.0.0.1", port=1234)
    assert (client.key, client.password, client.host, client.port) == (
        "given",
        "pw",
        "10.0.0.1",
        1234,
    )


def test_one_static_key_per_identity() -> None:
    """Two clients (and a later run) with the default identity present one Noise static key."""
    first = HiveMessageBusClient(key="k")
    second = HiveMessageBusClient(key="k")
    assert first._noise_private_key() == second._noise_private_key()
    assert NodeIdentity().noise_private_key() == first._noise_private_key()


def test_app_name_picks_the_applications_identity() -> None:
    NodeIdentity(app_name="kitchen", shared_fallback=False).save()
    client = HiveMessageBusClient(key="k", app_name="kitchen")
    assert (
        client.identity.path == Path(default_identity_path()).parent / "kitchen" / "_identity.json"
    )
    other = HiveMessageBusClient(key="k")
    assert client._noise_private_key() != other._noise_private_key()


def test_identity_and_app_name_contradict(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        HiveMessageBusClient(key="k", identity=NodeIdentity(tmp_path / "i.json"), app_name="x")


def test_no_access_key_anywhere_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgument, match="access key"):
        HiveMessageBusClient()
