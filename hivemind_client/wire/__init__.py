"""The wire layer: message types, the binary frame, HiveMessage and its JSON/binary codec,
schema validation. Knows nothing of keys or connections.
"""

__all__: list[str] = []
