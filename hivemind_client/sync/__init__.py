"""The threaded websocket driver: websocket-client on a reader thread, handlers on a
dispatcher thread. It moves bytes and time between the socket and the core.
"""

__all__: list[str] = []
