"""``hivemind_bus_client.fakebus``: not mapped yet (no in-process hive bus in the library)."""
