"""``hivemind_bus_client.keepalive``: the client keeps its own connection alive (ping_interval)."""
