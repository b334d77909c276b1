"""The sans-I/O protocol core: the session state machine, its links, events and side-effect
requests, and the reconnect policy. Takes bytes, time and results in; gives bytes, events,
timers and requests out. Imports no I/O module and reads no clock.
"""

__all__: list[str] = []
