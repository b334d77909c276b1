"""The HTTP polling driver: ``HiveMindHTTPClient`` for hubs running ``hivemind-http-protocol``."""

__all__: list[str] = []
