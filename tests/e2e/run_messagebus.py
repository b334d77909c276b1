"""Start ovos-messagebus with TCP_NODELAY on its client sockets (end-to-end fixture helper).

Runs INSIDE a hub's virtual environment; started by hubs.RunningHub instead of the plain
``ovos-messagebus`` command when ``bus_nodelay=True`` (the default).

Why: ovos-messagebus is a tornado WebSocketHandler, and tornado leaves Nagle's algorithm on for
websocket connections. The bus forwards every message to every client, including the sender,
so a client that only receives (like the echo helper after its own ``speak`` comes back) leaves
data unacknowledged; its delayed ACK (~40 ms) then holds the bus's next write. Back-to-back
utterances measured ~45 ms round trips instead of ~6 ms. This only sets a socket option on the
test bus; the hub under test is not touched. Everything else is ovos-messagebus's own main().
"""

import contextlib

from ovos_messagebus.event_handler import MessageBusEventHandler

_open = MessageBusEventHandler.open


def _open_nodelay(self, *args, **kwargs):
    with contextlib.suppress(Exception):  # never let the option stop the bus
        self.set_nodelay(True)
    return _open(self, *args, **kwargs)


MessageBusEventHandler.open = _open_nodelay

if __name__ == "__main__":
    from ovos_messagebus.__main__ import main

    main()
