"""The hive's topology, learned from PING floods: who answered, with which key, reached via whom.

Every node answers a PING flood once with its own PING (``{flood_id, peer, site_id, timestamp,
public_key, lang}``) inside a PROPAGATE, and each relay records a hop in the message's
``route``. :class:`HiveMapper` folds those answers into :class:`NodeInfo` records and directed
edges, and renders them as a dict, JSON (the reference's ``{"nodes": [...], "edges": [...]}``
layout), an ASCII tree rooted at this node or the stored edges as drawn trees.

Route hops name nodes in two ways: hubs from hivemind-core 4.11 on stamp their own RSA public
key (which is also the ``peer`` of their PING answers), while the hop a hub records for a
client names the connection (``useragent::id::name::session``), not the ``name::session`` the
client announces. Such routes name no targets (or only the hop itself), so the mapper reads them
as the chain of relays the answer passed: the first hop is the connection its originator
entered the mesh on, remembered as a *label* of that node (later routes naming the label
resolve to the node). A route whose hops name other targets is read as written, each hop an
edge ``source -> target``, as ``hivemind_bus_client`` 1.2 reads every route.

An edge ``source -> target`` means a message went from ``source`` to ``target`` (towards us, for
PING answers). Everything is bounded: nodes, labels and edges (least recently seen first out),
the per-flood de-duplication, and the size of the strings taken from the wire. Work per answer
is linear in its own route whatever the map holds: keys, labels and edges are indexed both ways
on insert, so no lookup scans the map. No clock is read: callers pass ``received_at`` / ``now``.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from hivemind_client.errors import InvalidArgument
from hivemind_client.security.keys import normalize_public_key, public_key_fingerprint
from hivemind_client.wire.message import HiveMessage
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "DEFAULT_FLOOD_CACHE_SIZE",
    "DEFAULT_MAX_NODES",
    "FloodCache",
    "HiveMapper",
    "NodeInfo",
    "NodeTable",
    "display_peer",
    "printable",
]

DEFAULT_MAX_NODES = 1024
"""Nodes (and labels) a mapper keeps before forgetting the least recently heard."""

DEFAULT_FLOOD_CACHE_SIZE = 4096
"""Flood ids remembered for de-duplication."""

_MAX_NAME_LENGTH = 1024  # peers and hop sources: an RSA-4096 PEM is ~800 characters
_MAX_KEY_LENGTH = 4096  # an RSA-4096 public PEM is ~800 characters
_MAX_SHORT_LENGTH = 256  # site ids, languages
_MAX_ROUTE_HOPS = 64
_MAX_HOP_TARGETS = 16
_MAX_SHOWN_LENGTH = 120  # a peer-supplied name in a tree or a log line
_PEM_MARKER = "-----BEGIN"


class FloodCache:
    """A bounded set of flood ids, least recently used out first.

    :meth:`check` tests and records in one step, which is what a flood handler needs ("answer
    once per flood id"). With a ``clock`` (for example ``time.time``) each id also keeps the
    time it was first recorded (:meth:`seen_at`); without one no clock is read.
    """

    def __init__(
        self,
        max_size: int = DEFAULT_FLOOD_CACHE_SIZE,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise InvalidArgument("a flood cache needs max_size >= 1")
        self._max_size = max_size
        self._clock = clock
        self._ids: OrderedDict[str, float | None] = OrderedDict()

    @property
    def max_size(self) -> int:
        """How many flood ids are kept."""
        return self._max_size

    def check(self, flood_id: str) -> bool:
        """True when ``flood_id`` was seen before; otherwise record it and return False.

        An empty flood id reads as seen: a PING without one must never be answered.
        """
        if not flood_id:
            return True
        if flood_id in self._ids:
            self._ids.move_to_end(flood_id)
            return True
        self.add(flood_id)
        return False

    def add(self, flood_id: str) -> None:
        """Record ``flood_id`` (as the most recent; its first-seen time is kept)."""
        if flood_id in self._ids:
            self._ids.move_to_end(flood_id)
            return
        self._ids[flood_id] = self._clock() if self._clock is not None else None
        while len(self._ids) > self._max_size:
            self._ids.popitem(last=False)

    def seen_at(self, flood_id: str) -> float | None:
        """When ``flood_id`` was first recorded (by the clock), or None (unknown, or no clock)."""
        return self._ids.get(flood_id)

    def discard(self, flood_id: str) -> None:
        """Forget ``flood_id`` if present."""
        self._ids.pop(flood_id, None)

    def clear(self) -> None:
        """Forget everything."""
        self._ids.clear()

    def __contains__(self, flood_id: object) -> bool:
        return flood_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._ids))

    def __repr__(self) -> str:
        return f"FloodCache({len(self._ids)}/{self._max_size})"


@dataclass(slots=True)
class NodeInfo:
    """What a node announced in its PING answer, and when we heard it."""

    peer: str
    site_id: str | None = None
    timestamp: float | None = None  # the sender's clock when it built the PING
    received_at: float | None = None  # our clock when it arrived (passed in by the caller)
    public_key: str | None = None
    lang: str | None = None
    trusted: bool = False

    @property
    def latency_ms(self) -> float | None:
        """Receive time minus send time, in ms: a clock-difference estimate, not a round trip."""
        if self.received_at is None or self.timestamp is None:
            return None
        return (self.received_at - self.timestamp) * 1000.0

    def to_dict(self) -> dict[str, Any]:
        """The reference's node record: peer, site_id, timestamp, latency_ms, key, lang, trust."""
        return {
            "peer": self.peer,
            "site_id": self.site_id,
            "timestamp": self.timestamp,
            "latency_ms": self.latency_ms,
            "public_key": self.public_key,
            "lang": self.lang,
            "trusted": self.trusted,
        }


def display_peer(peer: str) -> str:
    """A peer short enough for a tree or a log line: a PEM key becomes ``key:`` and 12 hex
    digits; other names (chosen by peers) are capped and get control characters escaped, so a
    newline in a name cannot forge a line."""
    if _PEM_MARKER in peer:
        return public_key_fingerprint(peer)
    return printable(peer)


def printable(text: str, limit: int = _MAX_SHOWN_LENGTH) -> str:
    """``text`` safe to log: at most ``limit`` characters, non-printable ones escaped as in
    ``repr`` (a plain name is returned as it is)."""
    if len(text) > limit:
        text = text[:limit] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class NodeTable(MutableMapping[str, NodeInfo]):
    """A mapper's nodes as a live mapping (peer to :class:`NodeInfo`).

    Assigning a record stores it as if it had been learned (its key indexed, the node bound
    kept); deleting forgets the node with its labels and edges. The key must be the record's
    ``peer``.
    """

    __slots__ = ("_mapper",)

    def __init__(self, mapper: HiveMapper) -> None:
        self._mapper = mapper

    def __getitem__(self, peer: str) -> NodeInfo:
        return self._mapper._nodes[peer]

    def __setitem__(self, peer: str, node: NodeInfo) -> None:
        if not isinstance(node, NodeInfo) or node.peer != peer:
            raise InvalidArgument("a node is stored under its own peer")
        self._mapper.put_node(node)

    def __delitem__(self, peer: str) -> None:
        if not self._mapper.forget(peer):
            raise KeyError(peer)  # the mapping protocol's signal (``pop``, ``del``)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._mapper._nodes))

    def __len__(self) -> int:
        return len(self._mapper._nodes)

    def __contains__(self, peer: object) -> bool:
        return peer in self._mapper._nodes

    def __repr__(self) -> str:
        return f"NodeTable({dict(self._mapper._nodes)!r})"


class HiveMapper:
    """Collects PING answers into a topology (see the module docstring).

    ``trust`` (for example ``NodeIdentity.is_trusted``) marks nodes whose announced public key
    is trusted as they are learned; :meth:`mark_trusted_nodes` re-marks them all. ``max_nodes``
    bounds nodes and labels (edges: eight per node); ``max_floods`` bounds the floods whose
    answers are de-duplicated (an answer repeated after its flood was forgotten is recorded
    again, harmlessly).
    """

    def __init__(
        self,
        *,
        max_nodes: int = DEFAULT_MAX_NODES,
        max_floods: int = 64,
        trust: Callable[[str], bool] | None = None,
    ) -> None:
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
            raise InvalidArgument("a mapper needs max_nodes >= 1")
        if isinstance(max_floods, bool) or not isinstance(max_floods, int) or max_floods < 1:
            raise InvalidArgument("a mapper needs max_floods >= 1")
        self._max_nodes = max_nodes
        self._max_floods = max_floods
        self._max_edges = 8 * max_nodes
        self._trust = trust
        self._nodes: OrderedDict[str, NodeInfo] = OrderedDict()
        self._by_key: dict[str, dict[str, None]] = {}  # normalized public key -> its peers
        self._labels: OrderedDict[str, str] = OrderedDict()  # route label -> peer
        self._labels_of: dict[str, set[str]] = {}  # peer -> its labels
        self._edges: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()
        self._sources_of: dict[str, set[str]] = {}  # target -> sources with an edge to it
        self._edge_count = 0
        # flood id -> peers already folded in for it
        self._seen: OrderedDict[str, set[str]] = OrderedDict()

    # -- reading ------------------------------------------------------------------------------
    @property
    def nodes(self) -> NodeTable:
        """Live view, peer to :class:`NodeInfo` (see :class:`NodeTable`)."""
        return NodeTable(self)

    @nodes.setter
    def nodes(self, nodes: Mapping[str, NodeInfo]) -> None:
        """Replace every node record (edges stay; labels went with the old nodes)."""
        records = list(nodes.items())
        for peer, node in records:
            if not isinstance(node, NodeInfo) or node.peer != peer:
                raise InvalidArgument("a node is stored under its own peer")
        self._nodes.clear()
        self._by_key.clear()
        self._labels.clear()
        self._labels_of.clear()
        for _, node in records:
            self.put_node(node)

    @property
    def node_count(self) -> int:
        """How many nodes are known."""
        return len(self._nodes)

    @property
    def edges(self) -> dict[str, set[str]]:
        """A copy of the edges: source to the set of targets it sent to."""
        return {source: set(targets) for source, targets in self._edges.items()}

    @edges.setter
    def edges(self, edges: Mapping[str, Iterable[str]]) -> None:
        """Replace every edge (``{source: targets}``, names as given; the edge bound holds)."""
        pairs = [(source, target) for source, targets in edges.items() for target in targets]
        if not all(_is_name(name, _MAX_NAME_LENGTH) for pair in pairs for name in pair):
            raise InvalidArgument("edge ends must be non-empty names")
        self._edges.clear()
        self._sources_of.clear()
        self._edge_count = 0
        for source, target in pairs:
            self._add_edge(source, target)

    @property
    def max_nodes(self) -> int:
        """The node bound."""
        return self._max_nodes

    def resolve(self, name: str) -> str:
        """The node peer a route name stands for (a learned label resolves to its node)."""
        return self._labels.get(name, name)

    def node_for(self, name: str) -> NodeInfo | None:
        """The node a peer id, route label or public key names, if known."""
        node = self._nodes.get(self.resolve(name))
        if node is not None or _PEM_MARKER not in name:
            return node
        peers = self._by_key.get(normalize_public_key(name))
        return self._nodes[next(iter(peers))] if peers else None

    def public_key_of(self, name: str) -> str | None:
        """The public key a node announced, looked up by peer id, label or key."""
        if _PEM_MARKER in name:
            return name
        node = self.node_for(name)
        return node.public_key if node is not None else None

    def is_peer_trusted(self, name: str) -> bool:
        """Whether the node behind ``name`` was marked trusted."""
        node = self.node_for(name)
        return node is not None and node.trusted

    # -- learning -----------------------------------------------------------------------------
    def start_ping(self, flood_id: str) -> None:
        """Begin collecting answers to our own flood (forgets earlier answers to that id)."""
        self._seen.pop(flood_id, None)
        self._remember_flood(flood_id, set())

    def observe_ping(
        self,
        message: HiveMessage,
        *,
        received_at: float | None = None,
        route: Iterable[Any] | None = None,
    ) -> bool:
        """Fold one PING answer in; True when it was new for its flood and was recorded.

        ``message`` is the PING or the PROPAGATE carrying it; the route is the outer
        message's (falling back to the inner one) unless ``route`` is given. Malformed answers
        are ignored (False), never raised.
        """
        hops: Any = route
        if message.msg_type is HiveMessageType.PROPAGATE:
            raw = message.raw_payload
            if not isinstance(raw, dict) or raw.get("msg_type") != HiveMessageType.PING.value:
                return False
            inner_payload = raw.get("payload")
            if hops is None:
                hops = message.route or raw.get("route") or []
        elif message.msg_type is HiveMessageType.PING:
            inner_payload = message.raw_payload
            if hops is None:
                hops = message.route
        else:
            return False
        if not isinstance(inner_payload, dict):
            return False
        flood_id = inner_payload.get("flood_id")
        peer = inner_payload.get("peer")
        if not _is_name(flood_id, _MAX_NAME_LENGTH) or not _is_name(peer, _MAX_NAME_LENGTH):
            return False
        assert isinstance(flood_id, str) and isinstance(peer, str)
        seen = self._seen.get(flood_id)
        if seen is None:
            seen = set()
            self._remember_flood(flood_id, seen)
        else:
            self._seen.move_to_end(flood_id)
        if peer in seen:
            return False
        if len(seen) < self._max_nodes:  # beyond that, repeats are only re-recorded
            seen.add(peer)

        public_key = _optional_str(inner_payload.get("public_key"), _MAX_KEY_LENGTH)
        self.put_node(
            NodeInfo(
                peer=peer,
                site_id=_optional_str(inner_payload.get("site_id"), _MAX_SHORT_LENGTH),
                timestamp=_optional_number(inner_payload.get("timestamp")),
                received_at=_optional_number(received_at),
                public_key=public_key,
                lang=_optional_str(inner_payload.get("lang"), _MAX_SHORT_LENGTH),
                trusted=bool(public_key and self._trust is not None and self._trust(public_key)),
            )
        )
        self._learn_route(peer, _clean_route(hops))
        return True

    def put_node(self, node: NodeInfo) -> None:
        """Store ``node`` as the latest record of its peer (its key indexed, the bound kept)."""
        if not isinstance(node, NodeInfo) or not _is_name(node.peer, _MAX_NAME_LENGTH):
            raise InvalidArgument("a node record needs a non-empty peer")
        peer = node.peer
        self._drop_label(peer)  # a real peer id is never a label of another node
        old = self._nodes.pop(peer, None)
        if old is not None:
            self._unindex_key(old)
        self._nodes[peer] = node
        if node.public_key is not None:
            self._by_key.setdefault(normalize_public_key(node.public_key), {})[peer] = None
        while len(self._nodes) > self._max_nodes:
            old_peer, old_node = self._nodes.popitem(last=False)
            self._unindex_key(old_node)
            self._forget_node(old_peer)

    def forget(self, peer: str) -> bool:
        """Forget one node with its labels and edges; True when it was known."""
        node = self._nodes.pop(peer, None)
        if node is None:
            return False
        self._unindex_key(node)
        self._forget_node(peer)
        return True

    on_ping = observe_ping

    def mark_trusted_nodes(self, trust: Callable[[str], bool] | Mapping[str, str]) -> None:
        """Re-mark every node: a predicate on public keys, or an ``{alias: pem}`` mapping."""
        check: Callable[[str], bool]
        if isinstance(trust, Mapping):
            keys = {
                normalize_public_key(value) for value in trust.values() if isinstance(value, str)
            }

            def check_mapping(pem: str) -> bool:
                return normalize_public_key(pem) in keys

            check = check_mapping
        else:
            check = trust
        self._trust = check
        for node in self._nodes.values():
            node.trusted = bool(node.public_key and check(node.public_key))

    def prune(self, now: float, max_age: float) -> int:
        """Forget nodes not heard from for more than ``max_age`` seconds; returns how many."""
        stale = [
            peer
            for peer, node in self._nodes.items()
            if node.received_at is not None and now - node.received_at > max_age
        ]
        for peer in stale:
            self._unindex_key(self._nodes.pop(peer))
            self._forget_node(peer)
        return len(stale)

    def clear(self) -> None:
        """Forget everything."""
        self._nodes.clear()
        self._by_key.clear()
        self._labels.clear()
        self._labels_of.clear()
        self._edges.clear()
        self._sources_of.clear()
        self._edge_count = 0
        self._seen.clear()

    # -- output -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"nodes": [node records], "edges": [{"source", "target"}]}`` (reference layout)."""
        return {
            "nodes": [node.to_dict() for node in self._nodes.values()],
            "edges": [
                {"source": source, "target": target}
                for source, targets in self._edges.items()
                for target in targets
            ],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def render_tree(self, root_peer: str | None = None) -> str:
        """An ASCII tree from this node outwards: each node under the relay that reached it.

        Nodes no relay reached hang off the root. A node met again on its own branch (a cycle)
        is shown as ``(cycle)``, one met again on another branch as ``(see above)``: each node
        is drawn in full once, so the output stays linear in the size of the map; PEM peers
        are shortened with :func:`display_peer`.
        """
        if not self._nodes and not self._edges:
            return "[No nodes discovered]"
        # message flow is source -> target (towards us), so a display parent is a target
        children: dict[str, list[str]] = {}
        has_parent: set[str] = set()
        for source, targets in self._edges.items():
            for target in targets:
                children.setdefault(target, []).append(source)
                has_parent.add(source)
        order = [name for name in self._names() if name != root_peer]
        top = list(children.get(root_peer, [])) if root_peer is not None else []
        top += [name for name in order if name not in has_parent and name not in top]
        top = _with_unreached(top, order, children)
        lines = ["[self]" if root_peer is None else f"[self] {self._label(root_peer)}"]
        base = [] if root_peer is None else [root_peer]
        self._draw(lines, [(name, False) for name in top], children, base)
        return "\n".join(lines)

    def render_edges(self) -> str:
        """The edges as stored (``source`` above the ``target`` it sent to), no ``[self]``.

        Trees start at the sources nothing sent to, then at nodes with no edge at all, then
        at members of cycles nothing else leads to; marks as in :meth:`render_tree`.
        """
        if not self._nodes and not self._edges:
            return "[No nodes discovered]"
        children = {source: list(targets) for source, targets in self._edges.items()}
        targets_seen = {target for targets in self._edges.values() for target in targets}
        roots = [source for source in self._edges if source not in targets_seen]
        roots += [
            peer for peer in self._nodes if peer not in self._edges and peer not in targets_seen
        ]
        roots = _with_unreached(roots, self._names(), children)
        lines: list[str] = []
        self._draw(lines, [(name, True) for name in roots], children, [])
        return "\n".join(lines)

    def to_ascii(self, root_peer: str | None = None) -> str:
        """The reference's rendering: :meth:`render_tree` from ``root_peer``, or without one
        the stored edges (:meth:`render_edges`)."""
        if root_peer is None:
            return self.render_edges()
        return self.render_tree(root_peer)

    def _names(self) -> list[str]:
        """Every node and edge end, in first-learned order."""
        every = [*self._nodes, *self._edges]
        for targets in self._edges.values():
            every.extend(targets)
        return list(dict.fromkeys(every))

    def _draw(
        self,
        lines: list[str],
        top: list[tuple[str, bool]],
        children: Mapping[str, list[str]],
        base: list[str],
    ) -> None:
        """Append the trees under ``top`` (``(name, bare)``: a bare top line has no connector).

        Iterative, so a long relay chain cannot hit the recursion limit; ``path`` holds the
        current branch (after ``base``), to tell a cycle from a node drawn on another branch.
        """
        drawn: set[str] = set(base)
        path: list[str] = list(base)
        on_path: set[str] = set(base)
        # (name, prefix, last, depth, bare)
        stack: list[tuple[str, str, bool, int, bool]] = [
            (name, "", index == len(top) - 1, len(base), bare)
            for index, (name, bare) in reversed(list(enumerate(top)))
        ]
        while stack:
            name, prefix, last, depth, bare = stack.pop()
            while len(path) > depth:
                on_path.discard(path.pop())
            connector = "" if bare else ("└── " if last else "├── ")
            if name in on_path:
                lines.append(f"{prefix}{connector}{display_peer(name)} (cycle)")
                continue
            if name in drawn:
                lines.append(f"{prefix}{connector}{display_peer(name)} (see above)")
                continue
            drawn.add(name)
            path.append(name)
            on_path.add(name)
            lines.append(f"{prefix}{connector}{self._label(name)}")
            kids = children.get(name, [])
            extension = prefix if bare else prefix + ("    " if last else "│   ")
            stack.extend(
                (kid, extension, index == len(kids) - 1, depth + 1, False)
                for index, kid in reversed(list(enumerate(kids)))
            )

    def _label(self, name: str | None) -> str:
        if name is None:
            return ""
        text = display_peer(name)
        node = self._nodes.get(name)
        if node is None:
            return text
        if node.site_id:
            text += f"  site={printable(node.site_id)}"
        latency = node.latency_ms
        if latency is not None:
            text += f"  latency={latency:.0f}ms"
        if node.trusted:
            text += "  [trusted]"
        return text

    # -- internals ----------------------------------------------------------------------------
    def _remember_flood(self, flood_id: str, seen: set[str]) -> None:
        self._seen[flood_id] = seen
        while len(self._seen) > self._max_floods:
            self._seen.popitem(last=False)

    def _learn_route(self, peer: str, hops: list[tuple[str, list[str]]]) -> None:
        if not hops:
            return
        if any(target != source for source, targets in hops for target in targets):
            # hops that name where they sent to are read as written (``source -> target``
            # each, as hivemind_bus_client 1.2 reads them), only resolved through known labels
            for source, targets in hops:
                resolved_source = self.resolve(source)
                for target in targets:
                    resolved_target = self.resolve(target)
                    if resolved_source != resolved_target:
                        self._add_edge(resolved_source, resolved_target)
            return
        # hivemind-core's hops name no target but themselves: the route is the chain of
        # relays the answer passed, from its originator's connection towards us
        first = hops[0][0]
        if first != peer and first not in self._nodes and _PEM_MARKER not in first:
            # the connection label the originator's first hub gave it (a PEM names a node)
            self._set_label(first, peer)
        for (earlier, _), (later, _) in pairwise(hops):
            # a hub stamps its key, then the next hub records the link it came in on
            if _PEM_MARKER in earlier and _PEM_MARKER not in later and later not in self._nodes:
                node = self.node_for(earlier)
                self._set_label(later, node.peer if node is not None else earlier)
        chain = [peer]
        for source, _ in hops:
            name = self.resolve(source)
            if name != chain[-1]:
                chain.append(name)
        for source, target in pairwise(chain):
            self._add_edge(source, target)

    def _set_label(self, label: str, owner: str) -> None:
        self._drop_label(label)
        self._labels[label] = owner
        self._labels_of.setdefault(owner, set()).add(label)
        while len(self._labels) > self._max_nodes:
            old_label, old_owner = self._labels.popitem(last=False)
            self._unindex_label(old_label, old_owner)

    def _drop_label(self, label: str) -> None:
        owner = self._labels.pop(label, None)
        if owner is not None:
            self._unindex_label(label, owner)

    def _unindex_label(self, label: str, owner: str) -> None:
        labels = self._labels_of.get(owner)
        if labels is not None:
            labels.discard(label)
            if not labels:
                del self._labels_of[owner]

    def _unindex_key(self, node: NodeInfo) -> None:
        if node.public_key is None:
            return
        key = normalize_public_key(node.public_key)
        peers = self._by_key.get(key)
        if peers is not None:
            peers.pop(node.peer, None)
            if not peers:
                del self._by_key[key]

    def _add_edge(self, source: str, target: str) -> None:
        targets = self._edges.get(source)
        if targets is None:
            targets = self._edges[source] = OrderedDict()
        else:
            self._edges.move_to_end(source)
        if target not in targets:
            targets[target] = None
            self._sources_of.setdefault(target, set()).add(source)
            self._edge_count += 1
        while self._edge_count > self._max_edges and self._edges:
            old_source, dropped = self._edges.popitem(last=False)
            self._drop_targets(old_source, dropped)

    def _drop_targets(self, source: str, targets: Iterable[str]) -> None:
        """Unindex the edges ``source -> targets`` (already removed from ``_edges``)."""
        for target in targets:
            self._edge_count -= 1
            sources = self._sources_of.get(target)
            if sources is not None:
                sources.discard(source)
                if not sources:
                    del self._sources_of[target]

    def _forget_node(self, peer: str) -> None:
        """Remove ``peer``'s labels and edges: work in its own degree, never a map scan."""
        for label in self._labels_of.pop(peer, ()):
            self._labels.pop(label, None)
        dropped = self._edges.pop(peer, None)
        if dropped is not None:
            self._drop_targets(peer, dropped)
        for source in self._sources_of.pop(peer, ()):
            targets = self._edges.get(source)
            if targets is not None and peer in targets:
                del targets[peer]
                self._edge_count -= 1
                if not targets:
                    del self._edges[source]

    def __repr__(self) -> str:
        return f"HiveMapper(nodes={len(self._nodes)}, edges={self._edge_count})"


def _with_unreached(
    top: list[str], order: Iterable[str], children: Mapping[str, list[str]]
) -> list[str]:
    """``top`` plus, in ``order``, a start for every name none of them leads to (members of a
    cycle nothing else reaches)."""
    top = list(top)
    reached: set[str] = set()

    def mark(start: str) -> None:
        stack = [start]
        while stack:
            name = stack.pop()
            if name not in reached:
                reached.add(name)
                stack.extend(children.get(name, []))

    for name in top:
        mark(name)
    for name in order:
        if name not in reached:
            top.append(name)
            mark(name)
    return top


def _is_name(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _optional_str(value: Any, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _optional_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _clean_route(route: Any) -> list[tuple[str, list[str]]]:
    """Well-formed hops only (bounded): ``(source, [targets])``; consecutive repeats merged."""
    if not isinstance(route, list | tuple):
        return []
    hops: list[tuple[str, list[str]]] = []
    for hop in route[:_MAX_ROUTE_HOPS]:
        if not isinstance(hop, Mapping):
            continue
        source = hop.get("source")
        if not _is_name(source, _MAX_NAME_LENGTH):
            continue
        assert isinstance(source, str)
        raw_targets = hop.get("targets")
        targets = (
            [t for t in raw_targets[:_MAX_HOP_TARGETS] if _is_name(t, _MAX_NAME_LENGTH)]
            if isinstance(raw_targets, list)
            else []
        )
        if hops and hops[-1][0] == source:
            hops[-1][1].extend(t for t in targets if t not in hops[-1][1])
            continue
        hops.append((source, targets))
    return hops
