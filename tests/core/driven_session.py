"""The smallest driver of a ClientSession: side-effect requests fulfilled at once, in-thread.

Tests that care about the protocol, not about how a driver schedules argon2id, use this: after
every call it performs the session's requests against a key store (the way the real drivers
do, through ``identity.stores.perform``) and feeds the PSK back.
"""

from __future__ import annotations

from hivemind_client.core.events import Event, SessionFailed
from hivemind_client.core.requests import ForgetPsk, Request
from hivemind_client.core.session import ClientSession, SessionConfig
from hivemind_client.identity.stores import NoiseKeyStore, perform


class DrivenSession(ClientSession):
    """A ClientSession whose requests are performed against ``store`` as soon as they appear."""

    def __init__(self, config: SessionConfig, *, now: float, store: NoiseKeyStore) -> None:
        config.pinned_hub_key = store.pinned_hub_key(config.hub_pin_id)
        super().__init__(config, now=now)
        self.store = store
        self.performed: list[Request] = []
        self._failures: list[SessionFailed] = []

    def receive_message(self, data: str | bytes, now: float) -> None:
        super().receive_message(data, now)
        self._drive(now)

    def handle_timer(self, now: float) -> None:
        super().handle_timer(now)
        self._drive(now)

    def connection_lost(self, code: int | None, reason: str, now: float) -> None:
        super().connection_lost(code, reason, now)
        self._drive(now)

    def events(self) -> list[Event]:
        out = super().events()
        self._failures += [event for event in out if isinstance(event, SessionFailed)]
        return out

    @property
    def stale_psk_dropped(self) -> bool:
        """A cached PSK failed, was dropped, and the failure says an immediate retry helps."""
        failed = self._failures[-1] if self._failures else None
        dropped = any(isinstance(request, ForgetPsk) for request in self.performed)
        return dropped and failed is not None and failed.retry_now

    @property
    def kk_rejected(self) -> bool:
        """The hub closed our KKpsk0: the failure asks for XXpsk2 next time."""
        return bool(self._failures) and self._failures[-1].avoid_kk

    def _drive(self, now: float) -> None:
        while requests := self.requests():
            for request in requests:
                self.performed.append(request)
                result = perform(request, self.store)
                if result is not None:
                    self.receive_psk(result.psk, cached=result.cached, now=now)
