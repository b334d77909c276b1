"""What the application sees, whatever the driver: handler registration, the local bus, the
BINARY callbacks, the ``wait_for_*`` predicates and the settings read from an identity."""

__all__: list[str] = []
