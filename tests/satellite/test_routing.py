"""SatelliteRouter decisions and the CascadeAggregator, with real RSA keys and real envelopes."""

from __future__ import annotations

import base64
import contextlib
import copy
import random
from dataclasses import FrozenInstanceError
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from Crypto.Cipher import PKCS1_OAEP
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pss
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hivemind_client.errors import HiveMindError, InvalidArgument, LocalError
from hivemind_client.identity import NodeIdentity, normalize_public_key
from hivemind_client.satellite.cascade import (
    QUERY_COMPLETE,
    CascadeAggregator,
    CascadeAnswer,
    TooManyPendingAggregations,
    select_all,
    select_first,
)
from hivemind_client.satellite.hivemap import HiveMapper
from hivemind_client.satellite.routing import (
    VERIFIED_SOURCE_KEY,
    DeliverToBus,
    Dispatch,
    Drop,
    Reply,
    SatelliteRouter,
    TrustStore,
    origin_of,
)
from hivemind_client.security.intercom import seal_intercom
from hivemind_client.wire.codec import decode_json, encode_json, message_from_dict
from hivemind_client.wire.message import HiveMessage, Message
from hivemind_client.wire.message_types import HiveMessageType as T

SITE = "kitchen"
PEER = "sat::session-1"
NOW = 1_700_000_000.0


class KeyPair(NamedTuple):
    private: str
    public: str


@cache
def _keys() -> dict[str, KeyPair]:
    """Real RSA-2048 key pairs, generated once per session: us, a trusted peer, a stranger, the hub."""
    pairs = {}
    for name in ("ours", "friend", "stranger", "hub"):
        key = RSA.generate(2048)
        pairs[name] = KeyPair(key.export_key().decode(), key.public_key().export_key().decode())
    return pairs


@pytest.fixture(scope="session")
def keys() -> dict[str, KeyPair]:
    return _keys()


@pytest.fixture
def identity(tmp_path: Path, keys: dict[str, KeyPair]) -> NodeIdentity:
    """A real trust store: the friend's key is trusted."""
    identity = NodeIdentity(tmp_path / "hivemind" / "_identity.json")
    identity.trust(keys["friend"].public, "friend")
    return identity


def _router(
    keys: dict[str, KeyPair], identity: NodeIdentity | None, **options: Any
) -> SatelliteRouter:
    options.setdefault("site_id", SITE)
    options.setdefault("lang", "en-us")
    return SatelliteRouter(
        peer=PEER,
        public_key_pem=keys["ours"].public,
        private_key_pem=keys["ours"].private,
        trust=identity,
        **options,
    )


@pytest.fixture
def router(keys: dict[str, KeyPair], identity: NodeIdentity) -> SatelliteRouter:
    return _router(keys, identity, hub_public_key=keys["hub"].public, mapper=HiveMapper())


def _bus(msg_type: str = "speak", **context: Any) -> HiveMessage:
    return HiveMessage(
        T.BUS, {"type": msg_type, "data": {"utterance": "hello"}, "context": dict(context)}
    )


def _delivered(actions: list[Any]) -> list[Message]:
    return [action.message for action in actions if isinstance(action, DeliverToBus)]


def _drops(actions: list[Any]) -> list[str]:
    return [action.reason for action in actions if isinstance(action, Drop)]


def _check_shape(actions: list[Any], message: HiveMessage) -> None:
    assert actions[-1] == Dispatch(message.msg_type.value, message)
    assert all(not isinstance(action, Dispatch) for action in actions[:-1])


def _intercom(
    inner: HiveMessage,
    recipient: str,
    *,
    signer: str | None = None,
    target: str | None = None,
) -> HiveMessage:
    envelope = seal_intercom(inner.serialize(), recipient, sender_private_pem=signer)
    return HiveMessage(T.INTERCOM, envelope, target_pubkey=target)


# -- plain BUS and the local treatment ---------------------------------------------------------
def test_bus_is_delivered_and_dispatched(router: SatelliteRouter) -> None:
    message = _bus(destination="skills", source="hivemind", x=1)
    actions = router.handle(message, NOW)
    _check_shape(actions, message)
    assert actions[0] == DeliverToBus(
        Message("speak", {"utterance": "hello"}, {"source": "skills", "x": 1})
    )
    # the message we were given is not modified
    assert message.raw_payload["context"]["destination"] == "skills"  # type: ignore[index]


def test_delivered_message_shares_nothing_with_the_received_one(router: SatelliteRouter) -> None:
    data = {"utterance": "hi", "nested": {"list": [1, {"deep": "x"}]}}
    context = {"session": {"session_id": "other", "pipeline": ["a", {"b": 1}]}, "skill": {"k": []}}
    message = HiveMessage(T.BUS, {"type": "speak", "data": data, "context": context})
    before = copy.deepcopy(message.as_dict)
    (delivered,) = _delivered(router.handle(message, NOW))
    delivered.data["nested"]["list"][1]["deep"] = "changed"
    delivered.data["nested"]["list"].append(2)
    delivered.context["session"]["pipeline"][1]["b"] = 2
    delivered.context["skill"]["k"].append(1)
    assert message.as_dict == before


def test_forged_verified_source_is_stripped(router: SatelliteRouter) -> None:
    actions = router.handle(_bus(**{VERIFIED_SOURCE_KEY: "forged"}), NOW)
    assert VERIFIED_SOURCE_KEY not in _delivered(actions)[0].context


def test_our_session_keeps_our_site(keys: dict[str, KeyPair], identity: NodeIdentity) -> None:
    router = _router(keys, identity, session_id="s-1")
    ours = router.handle(_bus(session={"session_id": "s-1", "site_id": "elsewhere"}), NOW)
    assert _delivered(ours)[0].context["session"] == {"session_id": "s-1", "site_id": SITE}
    other = router.handle(_bus(session={"session_id": "s-2", "site_id": "elsewhere"}), NOW)
    assert _delivered(other)[0].context["session"]["site_id"] == "elsewhere"


def test_bus_without_a_type_is_dropped(router: SatelliteRouter) -> None:
    message = HiveMessage(T.BUS, {"data": {}})
    actions = router.handle(message, NOW)
    assert _drops(actions) and not _delivered(actions)
    _check_shape(actions, message)


def test_handle_refuses_non_messages(router: SatelliteRouter) -> None:
    with pytest.raises(InvalidArgument):
        router.handle({"msg_type": "bus"}, NOW)  # type: ignore[arg-type]


def test_actions_are_frozen() -> None:
    drop = Drop("x")
    with pytest.raises(FrozenInstanceError):
        drop.reason = "y"  # type: ignore[misc]


# -- BROADCAST ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "delivered"),
    [(SITE, True), (None, False), ("", False), ("attic", False)],
)
def test_broadcast_bus_only_for_our_site(
    router: SatelliteRouter, target: str | None, delivered: bool
) -> None:
    message = HiveMessage(T.BROADCAST, _bus(), target_site_id=target)
    actions = router.handle(message, NOW)
    _check_shape(actions, message)
    assert bool(_delivered(actions)) is delivered
    assert bool(_drops(actions)) is not delivered


def test_broadcast_without_our_site_id_delivers_nothing(
    keys: dict[str, KeyPair], identity: NodeIdentity
) -> None:
    router = _router(keys, identity, site_id=None)
    actions = router.handle(HiveMessage(T.BROADCAST, _bus(), target_site_id=SITE), NOW)
    assert not _delivered(actions) and _drops(actions)


def test_broadcast_intercom_is_handled_as_intercom(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    inner = _intercom(
        _bus("secret"),
        keys["ours"].public,
        signer=keys["friend"].private,
        target=keys["ours"].public,
    )
    actions = router.handle(HiveMessage(T.BROADCAST, inner), NOW)  # no target site needed
    assert [m.msg_type for m in _delivered(actions)] == ["secret"]


@pytest.mark.parametrize(
    "inner",
    [
        HiveMessage(T.PING, {"flood_id": "f"}),
        HiveMessage(T.HELLO, {"pubkey": "k", "peer": "p", "node_id": "n"}),
        HiveMessage(T.BROADCAST, HiveMessage(T.BUS, {"type": "x"})),
    ],
)
def test_broadcast_of_other_types_is_dropped(router: SatelliteRouter, inner: HiveMessage) -> None:
    actions = router.handle(HiveMessage(T.BROADCAST, inner, target_site_id=SITE), NOW)
    assert _drops(actions) and not _delivered(actions)


def test_wrapper_with_invalid_inner_is_dropped(router: SatelliteRouter) -> None:
    for payload in ({"foo": 1}, {"msg_type": "nope"}, {"msg_type": "bus", "payload": {"x": 1}}):
        with contextlib.suppress(HiveMindError):  # the constructor refuses the first two
            HiveMessage(T.BROADCAST, payload)
        # the router copes all the same (built as the decoders build messages)
        message = HiveMessage._trusted(T.BROADCAST, payload, {})
        actions = router.handle(message, NOW)
        assert len(_drops(actions)) == 1 and not _delivered(actions)
        _check_shape(actions, message)


# -- PROPAGATE(BUS) and the trusted-origin rule -----------------------------------------------
def _propagate(route: list[dict[str, Any]], site: str | None = SITE, **kw: Any) -> HiveMessage:
    return HiveMessage(T.PROPAGATE, _bus(), target_site_id=site, route=route, **kw)


def test_propagate_from_a_trusted_key_origin(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    # a hub (named by its key, as hivemind-core >= 4.11 does) originated it
    route = [{"source": keys["friend"].public, "targets": []}]
    assert _delivered(router.handle(_propagate(route), NOW))


def test_propagate_from_our_hub_is_trusted(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    route = [{"source": keys["hub"].public, "targets": [keys["hub"].public]}]
    assert _delivered(router.handle(_propagate(route), NOW))


def test_propagate_origin_resolved_through_the_mapper(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    hub = keys["hub"].public
    label = "HiveMessageBusClientV0.0.1::7::friend-sat::s9"
    route = [{"source": label, "targets": []}, {"source": hub, "targets": [hub]}]
    message = _propagate(route)
    # unknown origin: dropped, even though our (trusted) hub relayed it
    actions = router.handle(message, NOW)
    assert not _delivered(actions) and "untrusted" in _drops(actions)[0]
    # the friend answers a PING flood over the same link, announcing its trusted key
    ping = HiveMessage(
        T.PING,
        {
            "flood_id": "flood-9",
            "peer": "friend-sat::s9",
            "site_id": "porch",
            "timestamp": NOW,
            "public_key": keys["friend"].public,
        },
    )
    router.handle(HiveMessage(T.PROPAGATE, ping, route=route), NOW)
    assert router.mapper is not None and router.mapper.resolve(label) == "friend-sat::s9"
    assert _delivered(router.handle(message, NOW))


def test_propagate_origin_announcing_an_untrusted_key(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    ping = HiveMessage(
        T.PING,
        {"flood_id": "f", "peer": "evil::1", "public_key": keys["stranger"].public, "timestamp": 1},
    )
    router.handle(HiveMessage(T.PROPAGATE, ping, route=[{"source": "evil-link"}]), NOW)
    actions = router.handle(_propagate([{"source": "evil-link", "targets": []}]), NOW)
    assert not _delivered(actions)


def test_relays_do_not_lend_trust(router: SatelliteRouter, keys: dict[str, KeyPair]) -> None:
    route = [
        {"source": keys["stranger"].public, "targets": []},
        {"source": keys["friend"].public, "targets": []},
        {"source": keys["hub"].public, "targets": []},
    ]
    actions = router.handle(_propagate(route), NOW)
    assert not _delivered(actions) and _drops(actions)


def test_propagate_bus_needs_our_site(router: SatelliteRouter, keys: dict[str, KeyPair]) -> None:
    route = [{"source": keys["friend"].public}]
    for site in (None, "", "attic"):
        actions = router.handle(_propagate(route, site=site), NOW)
        assert not _delivered(actions) and "site" in _drops(actions)[0]


def test_propagate_without_route_uses_source_peer(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    message = _propagate([], source_peer=keys["friend"].public)
    assert origin_of(message) == keys["friend"].public
    assert _delivered(router.handle(message, NOW))
    assert origin_of(_propagate([])) is None
    assert not _delivered(router.handle(_propagate([]), NOW))


def test_propagate_trust_rule_can_be_replaced(
    keys: dict[str, KeyPair], identity: NodeIdentity
) -> None:
    router = _router(keys, identity, propagate_trust=lambda m: m.source_peer == "lab")
    assert _delivered(router.handle(_propagate([], source_peer="lab"), NOW))
    assert not _delivered(router.handle(_propagate([{"source": keys["friend"].public}]), NOW))


def test_untrusted_keys_in_the_store(
    router: SatelliteRouter, identity: NodeIdentity, keys: dict[str, KeyPair]
) -> None:
    route = [{"source": keys["friend"].public}]
    assert _delivered(router.handle(_propagate(route), NOW))
    identity.untrust("friend")  # the router reads the live store
    assert not _delivered(router.handle(_propagate(route), NOW))
    assert router.is_trusted_key(keys["hub"].public)
    assert not router.is_trusted_key("not a key")


# -- PROPAGATE(PING) ------------------------------------------------------------------------------
def _ping(flood_id: str = "flood-1", peer: str = "other::1", **extra: Any) -> HiveMessage:
    payload = {"flood_id": flood_id, "peer": peer, "site_id": "attic", "timestamp": NOW - 1}
    payload.update(extra)
    return HiveMessage(T.PROPAGATE, HiveMessage(T.PING, payload), route=[{"source": peer}])


def test_ping_answered_once_per_flood(router: SatelliteRouter, keys: dict[str, KeyPair]) -> None:
    actions = router.handle(_ping(), NOW)
    replies = [action for action in actions if isinstance(action, Reply)]
    assert len(replies) == 1
    answer = replies[0].message
    assert answer.msg_type is T.PROPAGATE
    inner = answer.payload
    assert inner.msg_type is T.PING
    # the reference's fields, with our values
    assert inner.raw_payload == {
        "flood_id": "flood-1",
        "peer": PEER,
        "site_id": SITE,
        "timestamp": NOW,
        "public_key": keys["ours"].public,
        "lang": "en-us",
    }
    assert decode_json(encode_json(answer)) == answer  # a valid message on the wire
    # the same flood again (another path, another peer's answer): no second answer
    assert not [a for a in router.handle(_ping(peer="third::3"), NOW + 1) if isinstance(a, Reply)]
    assert [a for a in router.handle(_ping("flood-2"), NOW + 2) if isinstance(a, Reply)]


def test_ping_answers_feed_the_mapper(router: SatelliteRouter) -> None:
    router.handle(_ping(peer="other::1"), NOW)
    router.handle(_ping(peer="third::3"), NOW + 0.5)
    assert router.mapper is not None
    assert set(router.mapper.nodes) == {"other::1", "third::3"}
    assert router.mapper.nodes["third::3"].received_at == NOW + 0.5


def test_our_own_flood_is_not_answered(router: SatelliteRouter) -> None:
    flood = router.start_ping(NOW)
    assert flood.msg_type is T.PROPAGATE and flood.payload.msg_type is T.PING
    flood_id = flood.payload.raw_payload["flood_id"]
    assert flood_id in router.flood_cache
    assert not [a for a in router.handle(_ping(flood_id), NOW) if isinstance(a, Reply)]
    # our answer to someone's flood coming back around is not answered either
    assert not [a for a in router.handle(_ping("flood-x", peer=PEER), NOW) if isinstance(a, Reply)]
    assert "flood-x" in router.flood_cache
    assert router.start_ping(NOW, "chosen").payload.raw_payload["flood_id"] == "chosen"


def test_ping_without_flood_id_is_dropped(router: SatelliteRouter) -> None:
    for payload in ({"peer": "x"}, {"flood_id": ""}, {"flood_id": 3}):
        message = HiveMessage(T.PROPAGATE, HiveMessage(T.PING, payload))
        actions = router.handle(message, NOW)
        assert _drops(actions) and not [a for a in actions if isinstance(a, Reply)]


def test_bare_ping_is_dropped(router: SatelliteRouter) -> None:
    message = HiveMessage(T.PING, {"flood_id": "f", "peer": "x"})
    actions = router.handle(message, NOW)
    assert _drops(actions) and not [a for a in actions if isinstance(a, Reply)]
    _check_shape(actions, message)


@given(st.lists(st.sampled_from([f"f{i}" for i in range(12)]), max_size=80))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_flood_cache_bounded_and_answers_once_while_remembered(
    keys: dict[str, KeyPair], floods: list[str]
) -> None:
    router = _router(keys, None, flood_cache_size=4)
    remembered: list[str] = []
    for flood_id in floods:
        replied = any(isinstance(a, Reply) for a in router.handle(_ping(flood_id), NOW))
        assert replied == (flood_id not in remembered)
        if flood_id in remembered:
            remembered.remove(flood_id)
        remembered = [*remembered, flood_id][-4:]
        assert len(router.flood_cache) <= 4


# -- INTERCOM -------------------------------------------------------------------------------------
def test_intercom_addressed_to_us_unsigned_is_dropped_unless_accepted(
    router: SatelliteRouter, keys: dict[str, KeyPair], identity: NodeIdentity
) -> None:
    """Issue 14 item 6: anyone can encrypt to our key; only a trusted signature reaches the bus."""
    message = _intercom(
        _bus("secret", **{VERIFIED_SOURCE_KEY: "forged"}),
        keys["ours"].public,
        target=keys["ours"].public,
    )
    actions = router.handle(message, NOW)
    _check_shape(actions, message)
    assert not _delivered(actions)
    assert _drops(actions) == ["INTERCOM unsigned: only a trusted signer reaches the bus"]
    lenient = _router(keys, identity, accept_untrusted_intercom=True)
    [delivered] = _delivered(lenient.handle(message, NOW))
    assert delivered.msg_type == "secret" and delivered.data == {"utterance": "hello"}
    assert VERIFIED_SOURCE_KEY not in delivered.context


def test_intercom_signed_by_a_trusted_key_carries_the_signer(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    for target in (keys["ours"].public, None):  # addressed to us, or not addressed at all
        message = _intercom(
            _bus("secret"), keys["ours"].public, signer=keys["friend"].private, target=target
        )
        [delivered] = _delivered(router.handle(message, NOW))
        assert delivered.context[VERIFIED_SOURCE_KEY] == keys["friend"].public


def test_intercom_signed_by_our_hub_is_trusted(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    message = _intercom(_bus(), keys["ours"].public, signer=keys["hub"].private)
    [delivered] = _delivered(router.handle(message, NOW))
    assert delivered.context[VERIFIED_SOURCE_KEY] == keys["hub"].public


@pytest.mark.parametrize("signer", ["stranger", None])
def test_unaddressed_intercom_needs_a_trusted_signature(
    router: SatelliteRouter, keys: dict[str, KeyPair], signer: str | None
) -> None:
    private = keys[signer].private if signer else None
    message = _intercom(_bus(), keys["ours"].public, signer=private)
    actions = router.handle(message, NOW)
    assert not _delivered(actions) and "only a trusted signer" in _drops(actions)[0]
    lenient = _router(keys, None, accept_untrusted_intercom=True)
    actions = lenient.handle(message, NOW)
    assert not _delivered(actions) and "neither addressed" in _drops(actions)[0]


def test_addressed_intercom_from_a_stranger_is_dropped_unless_accepted(
    keys: dict[str, KeyPair], identity: NodeIdentity
) -> None:
    message = _intercom(
        _bus(), keys["ours"].public, signer=keys["stranger"].private, target=keys["ours"].public
    )
    signed = _intercom(
        _bus(), keys["ours"].public, signer=keys["friend"].private, target=keys["ours"].public
    )
    for strict in (
        _router(keys, identity),
        _router(keys, identity, require_intercom_signature=True),
    ):
        actions = strict.handle(message, NOW)
        assert not _delivered(actions)
        assert _drops(actions) == [
            "INTERCOM signed by an unknown key: only a trusted signer reaches the bus"
        ]
        assert _delivered(strict.handle(signed, NOW))
    lenient = _router(keys, identity, accept_untrusted_intercom=True)
    [delivered] = _delivered(lenient.handle(message, NOW))
    assert VERIFIED_SOURCE_KEY not in delivered.context
    [delivered] = _delivered(lenient.handle(signed, NOW))
    assert delivered.context[VERIFIED_SOURCE_KEY] == keys["friend"].public


def test_intercom_options_cannot_contradict(keys: dict[str, KeyPair]) -> None:
    with pytest.raises(InvalidArgument):
        _router(keys, None, require_intercom_signature=True, accept_untrusted_intercom=True)


def test_intercom_for_another_node_is_dropped(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    # addressed to someone else
    other = _intercom(
        _bus(),
        keys["stranger"].public,
        signer=keys["friend"].private,
        target=keys["stranger"].public,
    )
    assert "another node" in _drops(router.handle(other, NOW))[0]
    # not addressed, and not encrypted for our key
    unaddressed = _intercom(_bus(), keys["stranger"].public, signer=keys["friend"].private)
    assert "not for us" in _drops(router.handle(unaddressed, NOW))[0]
    # addressed to us, but encrypted for someone else
    wrong = _intercom(_bus(), keys["stranger"].public, target=keys["ours"].public)
    assert "does not open" in _drops(router.handle(wrong, NOW))[0]


def test_tampered_intercom_is_dropped(router: SatelliteRouter, keys: dict[str, KeyPair]) -> None:
    message = _intercom(
        _bus(), keys["ours"].public, signer=keys["friend"].private, target=keys["ours"].public
    )
    envelope = dict(message.raw_payload)  # type: ignore[arg-type]
    ciphertext = bytearray(base64.b64decode(envelope["ciphertext"]))
    ciphertext[0] ^= 1
    envelope["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    tampered = HiveMessage(T.INTERCOM, envelope, target_pubkey=keys["ours"].public)
    actions = router.handle(tampered, NOW)
    assert not _delivered(actions) and _drops(actions)


def test_intercom_target_key_comparison_ignores_line_endings(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    target = keys["ours"].public.replace("\n", "\r\n") + "\n"
    message = _intercom(_bus(), keys["ours"].public, signer=keys["friend"].private, target=target)
    assert _delivered(router.handle(message, NOW))


def test_legacy_rsa_only_intercom(router: SatelliteRouter, keys: dict[str, KeyPair]) -> None:
    """hivemind-core <= 4.12 shape: the serialized message RSA-OAEP'd whole, PSS-signed."""
    inner = HiveMessage(T.BUS, {"type": "old", "data": {}, "context": {}}).serialize().encode()
    ciphertext = PKCS1_OAEP.new(RSA.import_key(keys["ours"].public)).encrypt(inner)
    signature = pss.new(RSA.import_key(keys["friend"].private)).sign(SHA256.new(ciphertext))
    envelope = {
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "signature": base64.b64encode(signature).decode(),
    }
    [delivered] = _delivered(router.handle(HiveMessage(T.INTERCOM, envelope), NOW))
    assert delivered.msg_type == "old"
    assert delivered.context[VERIFIED_SOURCE_KEY] == keys["friend"].public


def test_intercom_in_propagate(router: SatelliteRouter, keys: dict[str, KeyPair]) -> None:
    # the reference 1.x sends PROPAGATE(INTERCOM(target_pubkey=...))
    inner = _intercom(
        _bus("p"), keys["ours"].public, signer=keys["hub"].private, target=keys["ours"].public
    )
    outer = HiveMessage(T.PROPAGATE, inner, route=[{"source": "anyone"}])
    actions = router.handle(outer, NOW)
    assert [m.msg_type for m in _delivered(actions)] == ["p"]
    _check_shape(actions, outer)


@pytest.mark.parametrize(
    "envelope",
    [
        {"msg_type": "bus", "payload": {"type": "plain"}},  # not encrypted at all
        {"ciphertext": 5},
        {"ciphertext": "!!!not base64!!!", "encrypted_key": "x", "tag": "y", "nonce": "z"},
    ],
)
def test_unusable_intercom_payloads_are_dropped(
    router: SatelliteRouter, keys: dict[str, KeyPair], envelope: dict[str, Any]
) -> None:
    message = HiveMessage(T.INTERCOM, envelope, target_pubkey=keys["ours"].public)
    actions = router.handle(message, NOW)
    assert len(_drops(actions)) == 1 and not _delivered(actions)


@pytest.mark.parametrize(
    "plaintext",
    [
        "not json",
        HiveMessage(T.PING, {"flood_id": "f"}).serialize(),
        '{"msg_type": "bus", "payload": {"data": {}}}',
    ],
)
def test_intercom_plaintext_must_be_a_bus_message(
    router: SatelliteRouter, keys: dict[str, KeyPair], plaintext: str
) -> None:
    envelope = seal_intercom(
        plaintext, keys["ours"].public, sender_private_pem=keys["friend"].private
    )
    message = HiveMessage(T.INTERCOM, envelope, target_pubkey=keys["ours"].public)
    actions = router.handle(message, NOW)
    assert len(_drops(actions)) == 1 and not _delivered(actions)
    assert "trusted signer" not in _drops(actions)[0]  # refused for what it holds


def test_router_without_private_key_drops_intercom(keys: dict[str, KeyPair]) -> None:
    router = SatelliteRouter(peer=PEER, public_key_pem=keys["ours"].public, site_id=SITE)
    message = _intercom(_bus(), keys["ours"].public, target=keys["ours"].public)
    assert "no private key" in _drops(router.handle(message, NOW))[0]


def test_a_broken_trusted_entry_does_not_break_verification(
    keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    path = tmp_path / "_identity.json"
    path.write_text(
        '{"trusted_keys": {"broken": "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----",'
        ' "junk": "xyz"}}'
    )
    identity = NodeIdentity(path)
    identity.trust(keys["friend"].public, "friend")
    router = _router(keys, identity)
    message = _intercom(_bus(), keys["ours"].public, signer=keys["friend"].private)
    [delivered] = _delivered(router.handle(message, NOW))
    assert normalize_public_key(delivered.context[VERIFIED_SOURCE_KEY]) == normalize_public_key(
        keys["friend"].public
    )


# -- the rest of the types ------------------------------------------------------------------------
@pytest.mark.parametrize("msg_type", [T.ESCALATE, T.SHARED_BUS])
def test_hub_bound_types_are_dropped(router: SatelliteRouter, msg_type: T) -> None:
    payload = _bus() if msg_type is T.ESCALATE else {"type": "x"}
    message = HiveMessage(msg_type, payload)
    actions = router.handle(message, NOW)
    assert len(actions) == 2 and isinstance(actions[0], Drop)
    _check_shape(actions, message)


@pytest.mark.parametrize(
    "message",
    [
        HiveMessage(T.HELLO, {"pubkey": "k", "node_id": "n"}),
        HiveMessage(T.BINARY, b"\x00\x01", bin_type=1),
        HiveMessage(T.RENDEZVOUS, {"status": "ok"}),
        HiveMessage(T.THIRDPRTY, {"anything": 1}),
    ],
)
def test_other_types_only_dispatch(router: SatelliteRouter, message: HiveMessage) -> None:
    assert router.handle(message, NOW) == [Dispatch(message.msg_type.value, message)]


@pytest.mark.parametrize("kind", [T.QUERY, T.CASCADE])
def test_query_and_cascade_answers_reach_the_bus_then_dispatch(
    router: SatelliteRouter, kind: T
) -> None:
    message = HiveMessage(kind, _bus(), metadata={"query_id": "q"})
    actions = router.handle(message, NOW)
    assert [type(a) for a in actions] == [DeliverToBus, Dispatch]
    assert actions[-1] == Dispatch(kind.value, message)


def test_from_identity(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    identity = NodeIdentity(tmp_path / "_identity.json")
    identity.name = "den-sat"
    identity.site_id = "den"
    identity.private_key = tmp_path / "k.pem"
    Path(identity.private_key).write_text(keys["ours"].private)
    router = SatelliteRouter.from_identity(identity, session_id="abc", lang="pt-pt")
    assert router.peer == "den-sat::abc" and router.site_id == "den"
    assert normalize_public_key(router.public_key_pem) == normalize_public_key(keys["ours"].public)
    assert isinstance(identity, TrustStore)
    identity.trust(keys["friend"].public)
    assert router.is_trusted_key(keys["friend"].public)
    answer = next(a for a in router.handle(_ping(), NOW) if isinstance(a, Reply))
    assert answer.message.payload.raw_payload["lang"] == "pt-pt"
    router.hub_public_key = keys["hub"].public
    assert router.hub_public_key == keys["hub"].public and router.is_trusted_key(keys["hub"].public)
    router.hub_public_key = "garbage"
    assert router.hub_public_key is None
    assert "den-sat::abc" in repr(router) and "PRIVATE" not in repr(router)


def test_constructor_checks(keys: dict[str, KeyPair]) -> None:
    with pytest.raises(InvalidArgument):
        SatelliteRouter(peer="", public_key_pem=keys["ours"].public)
    with pytest.raises(InvalidArgument):
        SatelliteRouter(peer="p", public_key_pem="nope")
    with pytest.raises(InvalidArgument):
        SatelliteRouter(peer="p", public_key_pem=keys["ours"].public, flood_cache_size=0)


# -- property: any valid message gets a decision, never an unexpected exception ---------------------
_text = st.text(max_size=6)
_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text
_json = st.recursive(
    _leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(_text, c, max_size=3), max_leaves=6
)
_context_keys = st.sampled_from(["destination", "source", "session", VERIFIED_SOURCE_KEY, "x"])


def _strategies() -> st.SearchStrategy[dict[str, Any]]:
    keys = _keys()
    names = _text | st.sampled_from([keys["friend"].public, keys["hub"].public, "friend-sat::1"])
    route = st.lists(
        st.fixed_dictionaries({"source": names}, optional={"targets": st.lists(names, max_size=2)}),
        max_size=3,
    )
    site = st.none() | st.sampled_from([SITE, "", "attic"])
    pubkey = st.none() | st.sampled_from([keys["ours"].public, keys["stranger"].public, "x"])
    bus = st.fixed_dictionaries(
        {"type": _text},
        optional={
            "data": st.dictionaries(_text, _json, max_size=2),
            "context": st.dictionaries(_context_keys, _json, max_size=3),
        },
    )
    ping = st.fixed_dictionaries(
        {"flood_id": st.sampled_from(["f1", "f2", ""]) | _text},
        optional={
            "peer": st.sampled_from([PEER, "other"]) | _text,
            "site_id": st.none() | _text,
            "timestamp": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
            "public_key": pubkey,
            "lang": st.none() | _text,
        },
    )
    sealed = st.builds(
        lambda plaintext, signer: seal_intercom(
            plaintext,
            keys["ours"].public,
            sender_private_pem=keys[signer].private if signer else None,
        ),
        st.sampled_from(
            [HiveMessage(T.BUS, {"type": "s"}).serialize(), "junk", '{"msg_type": "ping"}']
        ),
        st.sampled_from([None, "friend", "stranger", "hub"]),
    )
    intercom = sealed | st.fixed_dictionaries(
        {"ciphertext": _text}, optional={"encrypted_key": _text, "signature": _text}
    )

    def envelope(msg_type: str, payload: Any) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {"msg_type": st.just(msg_type), "payload": payload},
            optional={
                "route": route,
                "target_site_id": site,
                "target_pubkey": pubkey,
                "source_peer": st.none() | names,
                "metadata": st.dictionaries(
                    st.sampled_from(["query_id", "responder_peer", "is_response"]),
                    _json,
                    max_size=2,
                ),
            },
        )

    leaves = st.one_of(
        envelope("bus", bus),
        envelope("shared_bus", bus),
        envelope("ping", ping),
        envelope("intercom", intercom),
        envelope("hello", st.just({"pubkey": "k"})),
        envelope("rendezvous", st.dictionaries(_text, _json, max_size=2)),
        envelope("3rdparty", st.dictionaries(_text, _json, max_size=2)),
    )
    wrappers = ["broadcast", "propagate", "escalate", "query", "cascade"]
    return st.recursive(
        leaves,
        lambda inner: st.sampled_from(wrappers).flatmap(lambda kind: envelope(kind, inner)),
        max_leaves=3,
    )


@given(envelope=st.deferred(_strategies), now=st.floats(allow_nan=False, allow_infinity=False))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_any_valid_message_gets_a_decision(
    keys: dict[str, KeyPair], identity: NodeIdentity, envelope: dict[str, Any], now: float
) -> None:
    try:
        message = message_from_dict(copy.deepcopy(envelope))
    except HiveMindError:
        return  # not a valid message: the codec's business
    router = _router(keys, identity, hub_public_key=keys["hub"].public, mapper=HiveMapper())
    before = message.as_dict
    actions = router.handle(message, now)  # must not raise at all
    _check_shape(actions, message)
    for action in actions:
        assert isinstance(action, DeliverToBus | Dispatch | Reply | Drop)
        if isinstance(action, DeliverToBus):
            assert action.message.context.get(VERIFIED_SOURCE_KEY, keys["friend"].public) in (
                keys["friend"].public,
                keys["hub"].public,
            )
        if isinstance(action, Reply):
            assert decode_json(encode_json(action.message)) == action.message
    assert message.as_dict == before  # the router never mutates what it is given


# -- CascadeAggregator ----------------------------------------------------------------------------
def _answer(
    query_id: str,
    responder: str,
    utterance: str | None = None,
    *,
    msg_type: T = T.CASCADE,
    **metadata: Any,
) -> HiveMessage:
    if utterance is None:
        bus = {"type": QUERY_COMPLETE, "data": {}, "context": {}}
    else:
        bus = {"type": "speak", "data": {"utterance": utterance}, "context": {}}
    meta = {
        "query_id": query_id,
        "originator_peer": PEER,
        "responder_peer": responder,
        "is_response": True,
    }
    meta.update(metadata)
    return HiveMessage(msg_type, HiveMessage(T.BUS, bus), metadata=meta)


def _mapper_knowing(*peers: str) -> HiveMapper:
    mapper = HiveMapper()
    for peer in peers:
        mapper.observe_ping(_ping(peer=peer), received_at=NOW)
    return mapper


def test_cascade_resolves_early_when_every_known_node_answered() -> None:
    mapper = _mapper_knowing("hub-a", "hub-b")
    aggregator = CascadeAggregator(timeout=5, mapper=mapper)
    aggregator.start("q1", NOW)
    assert aggregator.is_pending("q1") and aggregator.next_deadline() == NOW + 5
    assert aggregator.add(_answer("q1", "hub-a", "sunny"), NOW + 0.1) is None
    assert aggregator.add(_answer("q1", "hub-b", "rain"), NOW + 0.2) is None
    assert aggregator.add(_answer("q1", "hub-a", " and warm"), NOW + 0.3) is None
    assert aggregator.add(_answer("q1", "hub-a"), NOW + 0.4) is None  # a finished, b not yet
    result = aggregator.add(_answer("q1", "hub-b"), NOW + 0.5)
    assert result is not None and result.reason == "complete" and result.query_id == "q1"
    assert [a.responder for a in result.answers] == ["hub-a", "hub-b"]
    assert result.answers[0].complete and len(result.answers[0].messages) == 3
    assert result.selected == result.answers  # select_all is the default
    assert [m.data["utterance"] for m in result.selected_messages()] == [
        "sunny",
        " and warm",
        "rain",
    ]
    assert not aggregator.is_pending("q1") and aggregator.pending == 0
    # a straggler for a closed query opens nothing
    assert aggregator.add(_answer("q1", "hub-c", "late"), NOW + 0.6) is None
    assert aggregator.pending == 0


def test_cascade_hubs_answer_as_their_key() -> None:
    keys = _keys()
    hub = keys["hub"].public
    mapper = HiveMapper()
    ping = HiveMessage(T.PING, {"flood_id": "f", "peer": hub, "public_key": hub, "timestamp": 1})
    mapper.observe_ping(HiveMessage(T.PROPAGATE, ping))
    aggregator = CascadeAggregator(mapper=mapper)
    aggregator.add(_answer("q", hub.replace("\n", "\r\n"), "x"), NOW)
    result = aggregator.add(_answer("q", hub.replace("\n", "\r\n")), NOW)
    assert result is not None and result.reason == "complete"


def test_cascade_times_out_with_what_it_has() -> None:
    aggregator = CascadeAggregator(timeout=2, mapper=_mapper_knowing("a", "b"))
    aggregator.add(_answer("q", "a", "one"), NOW)  # the first answer opens the window
    assert aggregator.next_deadline() == NOW + 2
    assert aggregator.poll(NOW + 1.9) == []
    [result] = aggregator.poll(NOW + 2)
    assert result.reason == "timeout" and [a.responder for a in result.answers] == ["a"]
    assert not result.answers[0].complete
    assert aggregator.next_deadline() is None


def test_cascade_late_answer_closes_the_window_without_it() -> None:
    aggregator = CascadeAggregator(timeout=1)
    aggregator.start("q", NOW)
    aggregator.add(_answer("q", "a", "on time"), NOW + 0.5)
    result = aggregator.add(_answer("q", "b", "late"), NOW + 1.5)
    assert result is not None and result.reason == "timeout"
    assert [a.responder for a in result.answers] == ["a"]


def test_cascade_without_known_nodes_waits_for_the_timeout() -> None:
    aggregator = CascadeAggregator(timeout=1, mapper=HiveMapper())
    assert aggregator.add(_answer("q", "a", "x"), NOW) is None
    assert aggregator.add(_answer("q", "a"), NOW) is None
    assert aggregator.poll(NOW + 1)[0].reason == "timeout"
    no_mapper = CascadeAggregator(timeout=1)
    assert no_mapper.add(_answer("q", "a"), NOW) is None


def test_cascade_expected_responders_override_the_mapper() -> None:
    aggregator = CascadeAggregator(mapper=_mapper_knowing("a", "b", "c"))
    aggregator.start("q", NOW, expected=["b"])
    result = aggregator.add(_answer("q", "b"), NOW)
    assert result is not None and result.reason == "complete"


def test_cascade_selectors() -> None:
    answers = (
        CascadeAnswer("a", (), False, 1.0),
        CascadeAnswer("b", (), True, 2.0),
        CascadeAnswer("c", (), True, 3.0),
    )
    assert select_all(answers) == answers
    assert select_first(answers) == (answers[1],)
    assert select_first(answers[:1]) == (answers[0],)
    assert select_first(()) == ()
    aggregator = CascadeAggregator(
        timeout=1, selector=lambda found: [a for a in found if a.responder == "b"]
    )
    aggregator.add(_answer("q", "a", "x"), NOW)
    aggregator.add(_answer("q", "b", "y"), NOW)
    [result] = aggregator.poll(NOW + 1)
    assert [a.responder for a in result.selected] == ["b"]
    assert [m.data["utterance"] for m in result.selected_messages()] == ["y"]


def test_cascade_first_answer_selector() -> None:
    aggregator = CascadeAggregator(timeout=1, selector=select_first)
    aggregator.add(_answer("q", "slow", "partial"), NOW)
    aggregator.add(_answer("q", "fast", "whole"), NOW + 0.1)
    aggregator.add(_answer("q", "fast"), NOW + 0.2)
    [result] = aggregator.poll(NOW + 1)
    assert [a.responder for a in result.selected] == ["fast"]


def test_cascade_pending_is_bounded() -> None:
    aggregator = CascadeAggregator(max_pending=2)
    aggregator.start("q1", NOW)
    aggregator.add(_answer("q2", "a", "x"), NOW)
    aggregator.start("q1", NOW)  # already open: fine
    with pytest.raises(TooManyPendingAggregations) as info:
        aggregator.start("q3", NOW)
    assert info.value.code == "too-many-pending-aggregations"
    assert isinstance(info.value, LocalError)
    with pytest.raises(TooManyPendingAggregations):
        aggregator.add(_answer("q4", "a", "x"), NOW)
    assert aggregator.pending == 2
    cancelled = aggregator.cancel("q1")
    assert cancelled is not None and cancelled.reason == "cancelled" and cancelled.selected == ()
    assert aggregator.cancel("q1") is None
    aggregator.start("q3", NOW)
    assert aggregator.pending == 2


def test_cascade_messages_per_window_are_bounded() -> None:
    aggregator = CascadeAggregator(timeout=1, max_messages=3)
    for index in range(10):
        aggregator.add(_answer("q", f"r{index}", "x"), NOW)
    [result] = aggregator.poll(NOW + 1)
    assert sum(len(a.messages) for a in result.answers) == 3


def test_cascade_ignores_what_is_not_an_answer() -> None:
    aggregator = CascadeAggregator()
    assert aggregator.add(_bus(), NOW) is None
    assert aggregator.add(_answer("", "a", "x"), NOW) is None
    assert aggregator.add(_answer("q", "a", "x", is_response=False), NOW) is None
    assert (
        aggregator.add(HiveMessage(T.CASCADE, {"msg_type": "bus", "payload": {"type": "x"}}), NOW)
        is None
    )
    assert aggregator.add("nope", NOW) is None  # type: ignore[arg-type]
    assert aggregator.pending == 0
    # QUERY answers aggregate the same way; a responder without responder_peer is named by route
    query = _answer("q", "ignored", "x", msg_type=T.QUERY)
    del query.metadata["responder_peer"]
    query.replace_route([{"source": "hub-z"}])
    aggregator.add(query, NOW)
    [result] = aggregator.poll(NOW + 60)
    assert result.answers[0].responder == "hub-z"


def test_cascade_constructor_checks() -> None:
    for options in (
        {"timeout": 0},
        {"timeout": float("inf")},
        {"timeout": True},
        {"max_pending": 0},
        {"max_messages": -1},
    ):
        with pytest.raises(InvalidArgument):
            CascadeAggregator(**options)
    with pytest.raises(InvalidArgument):
        CascadeAggregator().start("", NOW)


# -- issue 14 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("signer", "accept_untrusted", "delivered"),
    [
        (None, False, False),  # unsigned
        ("stranger", False, False),  # signed by a key we do not trust
        ("friend", False, True),  # signed by a trusted key
        ("hub", False, True),  # signed by the hub
        (None, True, True),  # the explicit opt-in
        ("stranger", True, True),
    ],
)
def test_intercom_to_us_needs_a_trusted_signer_unless_opted_in(
    keys: dict[str, KeyPair],
    identity: NodeIdentity,
    signer: str | None,
    accept_untrusted: bool,
    delivered: bool,
) -> None:
    """Item 6: an utterance injected by anyone who knows our public key stays off the bus."""
    router = _router(
        keys,
        identity,
        hub_public_key=keys["hub"].public,
        accept_untrusted_intercom=accept_untrusted,
    )
    inner = _bus("recognizer_loop:utterance")
    message = _intercom(
        inner,
        keys["ours"].public,
        signer=keys[signer].private if signer else None,
        target=keys["ours"].public,
    )
    for wrapped in (message, HiveMessage(T.PROPAGATE, message), HiveMessage(T.BROADCAST, message)):
        actions = router.handle(wrapped, NOW)
        assert bool(_delivered(actions)) is delivered
        if not delivered:
            [reason] = _drops(actions)
            assert reason.startswith("INTERCOM") and "trusted signer" in reason


def test_too_deep_bus_data_is_dropped_not_raised(router: SatelliteRouter) -> None:
    """Item 11: 500-990 levels decode fine; the copy made for delivery must not recurse out."""
    text = '{"msg_type": "bus", "payload": {"type": "x", "data": {"a": ' + "[" * 500
    deep: Any = []
    for _ in range(990):
        deep = [deep]
    for message in (
        decode_json(text + "]" * 500 + "}}}"),
        HiveMessage(T.BUS, {"type": "x", "data": {"a": deep}}),
    ):
        actions = router.handle(message, NOW)
        assert not _delivered(actions)
        assert "nests too deeply" in _drops(actions)[0]
        _check_shape(actions, message)


_FORGED = "evil\nINFO hivemind_client: forged line\r\n\x1b[2K"


def test_drop_reasons_never_hold_raw_control_characters(
    router: SatelliteRouter, keys: dict[str, KeyPair]
) -> None:
    """Item 13: names a hub supplies end in log lines; a newline must not forge one."""
    messages = [
        HiveMessage(T.PROPAGATE, _bus(), target_site_id=SITE, route=[{"source": _FORGED}]),
        HiveMessage(T.PROPAGATE, _bus(), target_site_id=SITE, source_peer=_FORGED),
        HiveMessage(T.BROADCAST, _bus(), target_site_id=_FORGED),
        HiveMessage(T.PROPAGATE, _bus(), target_site_id=_FORGED * 100),
    ]
    for message in messages:
        [reason] = _drops(router.handle(message, NOW))
        assert reason.isprintable() and len(reason) <= 500
        assert "evil\\n" in reason
    assert Drop("a\nb").reason == "a\\nb"


def test_forged_route_names_produce_no_forged_log_lines(
    caplog: pytest.LogCaptureFixture, keys: dict[str, KeyPair]
) -> None:
    """Item 13 end to end: the client logs each Drop; no record may hold a raw newline."""
    from hivemind_client.satellite.core import SatelliteConfig, SatelliteCore

    core = SatelliteCore(SatelliteConfig(password="p", site_id=SITE), rng=random.Random(0))
    messages = [
        HiveMessage(T.PROPAGATE, _bus(), target_site_id=SITE, route=[{"source": _FORGED}]),
        HiveMessage(T.BROADCAST, _bus(), target_site_id=_FORGED),
        HiveMessage(T.PROPAGATE, _bus(), target_site_id=SITE, source_peer=_FORGED),
    ]
    with caplog.at_level("DEBUG"):
        for message in messages:
            core.route(message, NOW)
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == len(messages)
    for record in caplog.records:
        text = record.getMessage()
        assert "\n" not in text and "\r" not in text and "\x1b" not in text
