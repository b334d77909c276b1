"""HiveMapper, NodeInfo and FloodCache: topology from PING answers, output formats, bounds."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from Crypto.PublicKey import RSA
from hypothesis import given
from hypothesis import strategies as st

from hivemind_client.errors import InvalidArgument
from hivemind_client.identity import public_key_fingerprint
from hivemind_client.satellite.hivemap import (
    FloodCache,
    HiveMapper,
    NodeInfo,
    display_peer,
    normalize_public_key,
)
from hivemind_client.satellite.routing import SatelliteRouter
from hivemind_client.wire.message import HiveMessage
from hivemind_client.wire.message_types import HiveMessageType

REF_07 = Path(__file__).resolve().parents[2] / ".venvs" / "ref-0.7" / "bin" / "python"


@cache
def _hub_keys() -> tuple[str, str]:
    """Two real RSA-2048 public keys standing for two hubs (hubs >= 4.11 are named by them)."""
    return tuple(  # type: ignore[return-value]
        RSA.generate(2048).public_key().export_key().decode() for _ in range(2)
    )


def _answer(
    peer: str,
    route: list[dict[str, Any]] | None = None,
    *,
    flood_id: str = "flood-1",
    site_id: str | None = None,
    public_key: str | None = None,
    timestamp: float = 100.0,
    lang: str | None = "en-us",
) -> HiveMessage:
    ping = HiveMessage(
        HiveMessageType.PING,
        {
            "flood_id": flood_id,
            "peer": peer,
            "site_id": site_id,
            "timestamp": timestamp,
            "public_key": public_key,
            "lang": lang,
        },
    )
    return HiveMessage(HiveMessageType.PROPAGATE, ping, route=route or [])


def _mesh() -> tuple[HiveMapper, str, str]:
    """us <- hub H <- (satellite a::1, hub H2 <- satellite b::2), routes as hivemind-core 5.x writes them."""
    hub, hub2 = _hub_keys()
    mapper = HiveMapper()
    assert mapper.observe_ping(
        _answer(hub, [{"source": hub, "targets": [hub]}], site_id="home", public_key=hub),
        received_at=100.25,
    )
    assert mapper.observe_ping(
        _answer(
            "a::1",
            [{"source": "ua::1::a::1", "targets": []}, {"source": hub, "targets": [hub]}],
            site_id="kitchen",
        ),
        received_at=100.5,
    )
    assert mapper.observe_ping(
        _answer(
            hub2,
            [
                {"source": hub2, "targets": [hub2]},
                {"source": "ua::5::h2::x", "targets": []},
                {"source": hub, "targets": [hub]},
            ],
            public_key=hub2,
        ),
        received_at=100.5,
    )
    assert mapper.observe_ping(
        _answer(
            "b::2",
            [
                {"source": "ua::7::b::2", "targets": []},
                {"source": hub2, "targets": []},
                {"source": "ua::5::h2::x", "targets": []},
                {"source": hub, "targets": [hub]},
            ],
            site_id="attic",
        ),
        received_at=101.0,
    )
    return mapper, hub, hub2


# -- learning ---------------------------------------------------------------------------------
def test_node_records_and_latency() -> None:
    mapper = HiveMapper()
    assert mapper.node_count == 0
    assert mapper.observe_ping(_answer("a::1", site_id="kitchen"), received_at=100.5)
    node = mapper.nodes["a::1"]
    assert node == NodeInfo("a::1", "kitchen", 100.0, 100.5, None, "en-us", False)
    assert node.latency_ms == 500.0
    assert NodeInfo("x").latency_ms is None
    assert mapper.node_count == 1


def test_one_record_per_peer_and_flood() -> None:
    mapper = HiveMapper()
    assert mapper.observe_ping(_answer("a::1"), received_at=1.0)
    assert not mapper.observe_ping(_answer("a::1"), received_at=2.0)  # same flood, same peer
    assert mapper.observe_ping(_answer("b::2"), received_at=2.0)
    assert mapper.observe_ping(_answer("a::1", flood_id="flood-2", site_id="new"), received_at=3.0)
    assert mapper.nodes["a::1"].site_id == "new" and mapper.node_count == 2
    mapper.start_ping("flood-1")  # our new flood with that id: answers count again
    assert mapper.observe_ping(_answer("a::1"), received_at=4.0)


def test_accepts_bare_ping_and_reference_name() -> None:
    mapper = HiveMapper()
    outer = _answer("a::1", [{"source": "ua::1::a::1", "targets": []}])
    inner = HiveMessage.from_dict(outer.raw_payload)  # type: ignore[arg-type]
    assert mapper.on_ping(inner, received_at=1.0, route=outer.route)
    assert mapper.resolve("ua::1::a::1") == "a::1"


@pytest.mark.parametrize(
    "payload",
    [
        {"peer": "a"},
        {"flood_id": "f"},
        {"flood_id": "", "peer": "a"},
        {"flood_id": "f", "peer": 3},
        {"flood_id": "f", "peer": "x" * 5000},
        {"flood_id": ["f"], "peer": "a"},
    ],
)
def test_malformed_answers_are_ignored(payload: dict[str, Any]) -> None:
    mapper = HiveMapper()
    message = HiveMessage(HiveMessageType.PROPAGATE, HiveMessage(HiveMessageType.PING, payload))
    assert mapper.observe_ping(message) is False
    assert mapper.node_count == 0


def test_odd_field_values_are_not_trusted_blindly() -> None:
    mapper = HiveMapper()
    payload = {
        "flood_id": "f",
        "peer": "a",
        "site_id": 7,
        "timestamp": True,
        "public_key": ["k"],
        "lang": None,
    }
    message = HiveMessage(HiveMessageType.PROPAGATE, HiveMessage(HiveMessageType.PING, payload))
    assert mapper.observe_ping(message, received_at=float("nan"))
    assert mapper.nodes["a"] == NodeInfo("a")
    # not a PING at all
    bus = HiveMessage(HiveMessageType.PROPAGATE, HiveMessage(HiveMessageType.BUS, {"type": "x"}))
    assert not mapper.observe_ping(bus)
    assert not mapper.observe_ping(HiveMessage(HiveMessageType.BUS, {"type": "x"}))


def test_routes_become_labels_and_edges() -> None:
    mapper, hub, hub2 = _mesh()
    assert mapper.node_count == 4
    # a client's hop names its connection; the mapper learns it as a label of the node
    assert mapper.resolve("ua::1::a::1") == "a::1"
    assert mapper.resolve("ua::7::b::2") == "b::2"
    # the link hub H recorded for hub H2 (right after H2's own key hop) resolves to H2
    assert mapper.resolve("ua::5::h2::x") == hub2
    assert mapper.node_for("ua::7::b::2") is mapper.nodes["b::2"]
    assert mapper.edges == {"a::1": {hub}, "b::2": {hub2}, hub2: {hub}}
    # hubs are found by their key, whatever its line endings
    assert mapper.node_for(hub.replace("\n", "\r\n")) is mapper.nodes[hub]
    assert mapper.public_key_of(hub2) == hub2
    assert mapper.public_key_of("ua::5::h2::x") == hub2
    assert mapper.public_key_of("a::1") is None
    assert mapper.public_key_of("nobody") is None


def test_trust_marking() -> None:
    hub, hub2 = _hub_keys()
    mapper = HiveMapper(trust=lambda key: key == hub)
    mapper.observe_ping(_answer(hub, public_key=hub))
    mapper.observe_ping(_answer(hub2, public_key=hub2))
    mapper.observe_ping(_answer("a::1"))
    assert mapper.is_peer_trusted(hub) and not mapper.is_peer_trusted(hub2)
    mapper.mark_trusted_nodes({"second": hub2 + "\n"})
    assert mapper.is_peer_trusted(hub2) and not mapper.is_peer_trusted(hub)
    assert not mapper.is_peer_trusted("a::1") and not mapper.is_peer_trusted("nobody")


def test_prune_forgets_quiet_nodes() -> None:
    mapper, hub, hub2 = _mesh()
    assert mapper.prune(now=100.9, max_age=0.5) == 1  # the hub, heard at 100.25
    assert hub not in mapper.nodes and hub not in mapper.edges
    assert mapper.edges == {"b::2": {hub2}}  # edges into the hub went with it
    assert mapper.resolve("ua::1::a::1") == "a::1"
    assert mapper.prune(now=101.2, max_age=0.5) == 2  # a::1 and H2, heard at 100.5
    assert list(mapper.nodes) == ["b::2"]
    assert mapper.resolve("ua::1::a::1") == "ua::1::a::1"  # a label goes with its node
    mapper.clear()
    assert mapper.node_count == 0 and mapper.edges == {}


# -- output -----------------------------------------------------------------------------------
def test_to_dict_and_json_layout() -> None:
    mapper, hub, hub2 = _mesh()
    data = mapper.to_dict()
    assert set(data) == {"nodes", "edges"}
    assert data["nodes"][1] == {
        "peer": "a::1",
        "site_id": "kitchen",
        "timestamp": 100.0,
        "latency_ms": 500.0,
        "public_key": None,
        "lang": "en-us",
        "trusted": False,
    }
    assert {"source": "b::2", "target": hub2} in data["edges"]
    assert {"source": hub2, "target": hub} in data["edges"]
    assert json.loads(mapper.to_json()) == data
    assert mapper.to_json(indent=None) == json.dumps(data, ensure_ascii=False)


def test_node_records_match_the_reference_mapper() -> None:
    """Our node records equal hivemind_bus_client 0.7's for the same answers (its oracle)."""
    if not REF_07.exists():
        pytest.skip("reference 0.7 is not installed")
    hub, _ = _hub_keys()
    answers = [
        (
            "a::1",
            "kitchen",
            None,
            100.0,
            "en-us",
            100.5,
            [{"source": "ua::1::a::1", "targets": []}],
        ),
        (hub, "home", hub, 99.0, None, 100.0, [{"source": hub, "targets": [hub]}]),
        ("a::1", "kitchen", None, 100.0, "en-us", 101.0, []),  # duplicate: ignored by both
        ("b::2", None, None, 7, "pt-pt", 8, []),
    ]
    mapper = HiveMapper()
    for peer, site, key, timestamp, lang, received, route in answers:
        mapper.observe_ping(
            _answer(peer, route, site_id=site, public_key=key, timestamp=timestamp, lang=lang),
            received_at=received,
        )
    script = textwrap.dedent(
        """
        import json, sys
        from hivemind_bus_client.hive_map import HiveMapper
        from hivemind_bus_client.message import HiveMessage, HiveMessageType
        mapper = HiveMapper()
        for peer, site, key, ts, lang, received, route in json.load(sys.stdin):
            payload = {"flood_id": "flood-1", "peer": peer, "site_id": site,
                       "timestamp": ts, "public_key": key, "lang": lang}
            mapper.on_ping(HiveMessage(HiveMessageType.PING, payload, route=route),
                           received_at=received)
        print(json.dumps(mapper.to_dict()["nodes"]))
        """
    )
    result = subprocess.run(
        [str(REF_07), "-c", script],
        input=json.dumps(answers),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    reference_nodes = json.loads(result.stdout.strip().splitlines()[-1])
    assert mapper.to_dict()["nodes"] == reference_nodes


def test_render_tree() -> None:
    mapper, hub, hub2 = _mesh()
    h1, h2 = display_peer(hub), display_peer(hub2)
    assert h1 == public_key_fingerprint(hub)
    assert mapper.render_tree("me::s") == "\n".join(
        [
            "[self] me::s",
            f"└── {h1}  site=home  latency=250ms",
            "    ├── a::1  site=kitchen  latency=500ms",
            f"    └── {h2}  latency=500ms",
            "        └── b::2  site=attic  latency=1000ms",
        ]
    )
    mapper.mark_trusted_nodes(lambda key: key == hub)
    assert mapper.render_tree().splitlines()[:2] == [
        "[self]",
        f"└── {h1}  site=home  latency=250ms  [trusted]",
    ]
    assert mapper.to_ascii("me::s").startswith("[self] me::s")


def test_render_tree_directly_answering_nodes_hang_off_the_root() -> None:
    mapper = HiveMapper()
    mapper.observe_ping(_answer("a::1"))
    mapper.observe_ping(_answer("b::2", [{"source": "b::2", "targets": ["me::s"]}]))
    assert mapper.render_tree("me::s") == "\n".join(["[self] me::s", "├── b::2", "└── a::1"])
    assert HiveMapper().render_tree() == "[No nodes discovered]"


def test_render_tree_survives_cycles_and_shared_paths() -> None:
    mapper = HiveMapper()
    # x and y relayed each other's answers: a cycle with no way in from the top
    mapper.observe_ping(
        _answer("x", [{"source": "x", "targets": []}, {"source": "y", "targets": []}])
    )
    mapper.observe_ping(
        _answer("y", [{"source": "y", "targets": []}, {"source": "x", "targets": []}])
    )
    # z reached both r1 and r2, which both reach the top
    mapper.observe_ping(_answer("z", [{"source": "z", "targets": ["r1", "r2"]}]))
    tree = mapper.render_tree()
    lines = tree.splitlines()
    assert lines[0] == "[self]"
    assert sum(line.split()[-1] == "x" for line in lines) == 1
    # a repeat on its own branch is a cycle; on another branch, a node drawn above
    assert any(line.endswith("x (cycle)") or line.endswith("y (cycle)") for line in lines)
    assert not any(line.endswith("(see above)") and line.split()[-3] in ("x", "y") for line in lines)
    assert any(line.endswith("z (see above)") for line in lines)
    assert sum(line.endswith("── z") for line in lines) == 1


def test_render_tree_long_chain_does_not_recurse() -> None:
    mapper = HiveMapper(max_nodes=3000)
    for index in range(1, 2500):
        mapper.observe_ping(
            _answer(
                f"n{index}",
                [
                    {"source": f"n{index}", "targets": []},
                    {"source": f"n{index - 1}", "targets": []},
                ],
            )
        )
    lines = mapper.render_tree().splitlines()
    assert len(lines) == 2501  # "[self]", n0 .. n2499
    assert lines[1] == "└── n0" and lines[-1].endswith("└── n2499")


# -- bounds -----------------------------------------------------------------------------------
def test_constructor_checks_bounds() -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(InvalidArgument):
            HiveMapper(max_nodes=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            HiveMapper(max_floods=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            FloodCache(bad)  # type: ignore[arg-type]


def test_least_recently_heard_node_goes_first() -> None:
    mapper = HiveMapper(max_nodes=2)
    mapper.observe_ping(_answer("a", [{"source": "ua::a", "targets": []}]))
    mapper.observe_ping(_answer("b"))
    mapper.observe_ping(_answer("a", flood_id="flood-2"))  # a heard again
    mapper.observe_ping(_answer("c"))
    assert list(mapper.nodes) == ["a", "c"]
    mapper.observe_ping(_answer("d"))
    assert list(mapper.nodes) == ["c", "d"]
    assert mapper.resolve("ua::a") == "ua::a"  # a's label left with it


_names = st.text(alphabet="abcxyz:-", min_size=1, max_size=6)
_hops = st.lists(
    st.fixed_dictionaries({"source": _names, "targets": st.lists(_names, max_size=3)}), max_size=6
)


@given(
    st.lists(
        st.tuples(_names, st.sampled_from(["f1", "f2", "f3", "f4", "f5"]), _hops), max_size=60
    ),
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=1, max_value=3),
)
def test_mapper_stays_bounded(
    answers: list[tuple[str, str, list[dict[str, Any]]]], max_nodes: int, max_floods: int
) -> None:
    mapper = HiveMapper(max_nodes=max_nodes, max_floods=max_floods)
    for peer, flood_id, route in answers:
        mapper.observe_ping(_answer(peer, route, flood_id=flood_id), received_at=1.0)
        assert mapper.node_count <= max_nodes
        assert len(mapper._labels) <= max_nodes
        assert len(mapper._seen) <= max_floods
        assert mapper._edge_count == sum(len(t) for t in mapper.edges.values())
        assert mapper._edge_count <= 8 * max_nodes
    tree = mapper.render_tree("me")
    assert tree.startswith("[self]") or tree == "[No nodes discovered]"


def test_flood_cache_semantics() -> None:
    cache_ = FloodCache(2)
    assert cache_.max_size == 2
    assert cache_.check("a") is False and cache_.check("a") is True
    assert cache_.check("b") is False
    assert cache_.check("a") is True  # a is now the most recent
    assert cache_.check("c") is False  # evicts b, the least recently used
    assert "b" not in cache_ and "a" in cache_ and len(cache_) == 2
    assert list(cache_) == ["a", "c"]
    cache_.discard("a")
    assert "a" not in cache_
    cache_.clear()
    assert len(cache_) == 0


@given(st.lists(st.text(min_size=1, max_size=4), max_size=200), st.integers(min_value=1, max_value=16))
def test_flood_cache_bounded_and_exact_within_bound(ids: list[str], size: int) -> None:
    cache_ = FloodCache(size)
    recent: list[str] = []
    for flood_id in ids:
        seen = cache_.check(flood_id)
        assert seen == (flood_id in recent)
        if flood_id in recent:
            recent.remove(flood_id)
        recent.append(flood_id)
        recent = recent[-size:]
        assert len(cache_) <= size
        assert list(cache_) == recent


# -- issue 14 item 2: work per answer is linear in its route, whatever the map holds -------------
def _long_key(index: int) -> str:
    """A PEM-like key as long as a key may be, in short lines: costly to normalize."""
    body = f"{index:08d}\n" + "\n".join(["AB"] * 1280)
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----"


def _full_mapper() -> HiveMapper:
    mapper = HiveMapper()
    for index in range(mapper.max_nodes):
        mapper.observe_ping(
            _answer(
                f"node-{index}",
                [{"source": f"conn-{index}", "targets": []}],
                public_key=_long_key(index),
                flood_id=f"fill-{index % 50}",
            ),
            received_at=1.0,
        )
    assert mapper.node_count == mapper.max_nodes
    return mapper


def _hostile_route(hops: int = 64) -> list[dict[str, Any]]:
    """Hubs named by (unknown) keys alternating with links: every pair asks "whose key is it?"."""
    return [
        {"source": f"-----BEGIN KEY {i}" if i % 2 == 0 else f"link-{i}", "targets": []}
        for i in range(hops)
    ]


def test_route_learning_normalizes_per_hop_not_per_stored_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mapper = _full_mapper()
    calls = 0
    normalize = normalize_public_key

    def counting(pem: str) -> str:
        nonlocal calls
        calls += 1
        return normalize(pem)

    monkeypatch.setattr("hivemind_client.satellite.hivemap.normalize_public_key", counting)
    route = _hostile_route()
    message = _answer("attacker", route, flood_id="attack")
    assert len(message.serialize()) < 4096
    assert mapper.observe_ping(message, received_at=2.0)
    # one per hop pair, plus the answer's own key and the evicted node's (was 32 x 1024)
    assert calls <= len(route) + 4
    assert mapper.node_count == mapper.max_nodes


def test_a_3kb_answer_is_handled_in_milliseconds_with_a_full_map() -> None:
    mapper = HiveMapper()
    router = SatelliteRouter(peer="me::1", public_key_pem=None, mapper=mapper)
    for index in range(mapper.max_nodes):  # as PING answers through the router
        router.handle(
            _answer(f"node-{index}", public_key=_long_key(index), flood_id=f"fill-{index}"), 1.0
        )
    assert mapper.node_count == mapper.max_nodes
    message = _answer("attacker", _hostile_route(), flood_id="attack")
    start = time.perf_counter()
    router.handle(message, 2.0)
    assert time.perf_counter() - start < 0.5  # 5 to 9 s before; about a millisecond now


def _check_indexes(mapper: HiveMapper) -> None:
    """The reverse indexes say exactly what the primary tables say."""
    by_key: dict[str, set[str]] = {}
    for peer, node in mapper.nodes.items():
        if node.public_key is not None:
            by_key.setdefault(normalize_public_key(node.public_key), set()).add(peer)
    assert {k: set(v) for k, v in mapper._by_key.items()} == by_key
    labels_of: dict[str, set[str]] = {}
    for label, owner in mapper._labels.items():
        labels_of.setdefault(owner, set()).add(label)
    assert mapper._labels_of == labels_of
    sources_of: dict[str, set[str]] = {}
    for source, targets in mapper._edges.items():
        assert targets
        for target in targets:
            sources_of.setdefault(target, set()).add(source)
    assert mapper._sources_of == sources_of
    assert mapper._edge_count == sum(len(t) for t in mapper._edges.values())


_key_names = st.sampled_from(["-----BEGIN K1", "-----BEGIN K2", "-----BEGIN\r\nK1", "a", "b"])


@given(
    st.lists(
        st.tuples(
            _names,
            st.sampled_from(["f1", "f2", "f3"]),
            st.lists(
                st.fixed_dictionaries(
                    {"source": _names | _key_names, "targets": st.lists(_names, max_size=2)}
                ),
                max_size=6,
            ),
            st.none() | _key_names,
        ),
        max_size=40,
    ),
    st.integers(min_value=1, max_value=6),
)
def test_indexes_stay_exact(
    answers: list[tuple[str, str, list[dict[str, Any]], str | None]], max_nodes: int
) -> None:
    mapper = HiveMapper(max_nodes=max_nodes, max_floods=2)
    for step, (peer, flood_id, route, key) in enumerate(answers):
        mapper.observe_ping(
            _answer(peer, route, flood_id=flood_id, public_key=key), received_at=step
        )
        _check_indexes(mapper)
        if key is not None and "-----BEGIN" in key and mapper.resolve(key) not in mapper.nodes:
            # what a scan of every stored key would find
            owners = {
                peer
                for peer, node in mapper.nodes.items()
                if node.public_key
                and normalize_public_key(node.public_key) == normalize_public_key(key)
            }
            found = mapper.node_for(key)
            assert (found.peer if found else None) in (owners or {None})
        if step % 7 == 6:
            mapper.prune(now=step, max_age=3)
            _check_indexes(mapper)
    mapper.clear()
    _check_indexes(mapper)


def test_display_peer_escapes_control_characters_and_caps_length() -> None:
    shown = display_peer("evil\nINFO forged line\r\x1b[31m")
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown
    assert shown.startswith("evil\\nINFO forged line\\r\\x1b")
    assert len(display_peer("x" * 5000)) < 200
    assert display_peer("sat::1") == "sat::1"


def test_render_tree_lines_are_not_forged_by_peer_names() -> None:
    mapper = HiveMapper()
    forged = "sat\n└── forged::node"
    mapper.observe_ping(
        _answer(forged, [{"source": "link\nx", "targets": []}], site_id="k\nitchen"),
        received_at=1.0,
    )
    tree = mapper.render_tree("me")
    assert len(tree.splitlines()) == 2  # the root and the node (its link is a label of it)
    assert "sat\\n└── forged::node" in tree and "site=k\\nitchen" in tree


def test_an_empty_flood_id_reads_as_seen_and_is_not_recorded() -> None:
    cache = FloodCache(4)
    assert cache.check("") is True
    assert len(cache) == 0
    assert cache.check("f1") is False


# -- hivemind_bus_client 1.2's public surface: routes that name targets, the stored-edge view,
# -- writable nodes and edges, first-seen times of flood ids ------------------------------------
def test_hops_that_name_their_targets_are_read_as_written() -> None:
    mapper = HiveMapper()
    route = [{"source": "hub", "targets": ["relay1"]}, {"source": "relay1", "targets": ["a"]}]
    assert mapper.on_ping(HiveMessage(HiveMessageType.PING, {"flood_id": "f", "peer": "a"},
                                      route=route))
    assert mapper.edges == {"hub": {"relay1"}, "relay1": {"a"}}
    assert mapper.resolve("hub") == "hub"  # not taken for a's connection label
    mapper.observe_ping(_answer("b", [{"source": "hub", "targets": ["b"]}, "junk"]))  # type: ignore[list-item]
    assert {"source": "hub", "target": "b"} in mapper.to_dict()["edges"]
    assert {"source": "b", "target": "hub"} not in mapper.to_dict()["edges"]


def test_to_ascii_without_a_root_draws_the_stored_edges() -> None:
    mapper = HiveMapper()
    mapper.observe_ping(_answer("a", [{"source": "hub", "targets": ["a"]}]))
    mapper.observe_ping(_answer("lone"))
    assert mapper.to_ascii() == mapper.render_edges() == "\n".join(["hub", "└── a", "lone"])
    assert mapper.render_tree().startswith("[self]")
    assert HiveMapper().to_ascii() == "[No nodes discovered]"


def test_a_shared_node_is_no_cycle_and_a_cycle_is_marked() -> None:
    mapper = HiveMapper()
    mapper.edges = {"root": ["a", "b"], "a": ["c"], "b": ["c"]}
    tree = mapper.to_ascii()
    assert "(cycle)" not in tree and tree.count("c") == 2 and "c (see above)" in tree
    for edges in ({"a": ["b"], "b": ["a"]}, {"a": ["a"]}, {"a": ["b"], "b": ["c"], "c": ["a"]}):
        mapper.edges = edges
        assert "a (cycle)" in mapper.to_ascii() or "(cycle)" in mapper.to_ascii()
        assert "(cycle)" in mapper.render_tree("me")


def test_a_cycle_under_the_root_is_marked_once() -> None:
    mapper = HiveMapper()
    for peer, source in (("b::1", "c::1"), ("c::1", "b::1"), ("x::1", "c::1")):
        mapper.observe_ping(_answer(peer, [{"source": source, "targets": [peer]}]))
    assert mapper.render_tree("me::1") == "\n".join(
        [
            "[self] me::1",
            "└── x::1",
            "    └── c::1",
            "        └── b::1",
            "            └── c::1 (cycle)",
        ]
    )


def test_nodes_and_edges_can_be_written() -> None:
    hub, _ = _hub_keys()
    mapper = HiveMapper()
    mapper.nodes["a"] = NodeInfo("a", public_key=hub)
    mapper.nodes["b"] = NodeInfo("b", public_key="KEY_B", trusted=True)
    assert mapper.node_for(hub) is mapper.nodes["a"] and mapper.is_peer_trusted("b")
    mapper.mark_trusted_nodes({"hub": hub})
    assert mapper.is_peer_trusted("a") and not mapper.is_peer_trusted("b")
    with pytest.raises(InvalidArgument):
        mapper.nodes["c"] = NodeInfo("not-c")
    mapper.edges = {"a": {"b"}}
    del mapper.nodes["a"]
    assert "a" not in mapper.nodes and mapper.edges == {} and mapper.node_for(hub) is None
    with pytest.raises(KeyError):
        del mapper.nodes["a"]
    mapper.nodes = {"x": NodeInfo("x")}
    assert dict(mapper.nodes) == {"x": NodeInfo("x")} and mapper.nodes == {"x": NodeInfo("x")}
    with pytest.raises(InvalidArgument):
        mapper.edges = {"x": [""]}
    small = HiveMapper(max_nodes=1)
    small.nodes["a"] = NodeInfo("a")
    small.nodes["b"] = NodeInfo("b")
    assert list(small.nodes) == ["b"]


def test_a_timed_flood_cache_keeps_first_seen_times() -> None:
    ticks = iter([10.0, 20.0, 30.0])
    cache_ = FloodCache(4, clock=lambda: next(ticks))
    assert cache_.check("a") is False and cache_.seen_at("a") == 10.0
    assert cache_.check("a") is True and cache_.seen_at("a") == 10.0  # first seen, kept
    cache_.add("b")
    assert cache_.seen_at("b") == 20.0 and cache_.seen_at("zz") is None
    assert FloodCache(4).seen_at("a") is None
    untimed = FloodCache(4)
    untimed.add("a")
    assert untimed.seen_at("a") is None
