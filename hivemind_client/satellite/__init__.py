"""Satellite behaviour, still sans-I/O: routing (BROADCAST, PROPAGATE, PING, INTERCOM, ...),
CASCADE aggregation, the hive map, and the per-client satellite core that drivers run.
"""

__all__: list[str] = []
