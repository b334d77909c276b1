"""What happens after a connection ends: retry (when, and why) or give up, as typed values.

Pure decisions: the time and the random source are passed in, so the backoff schedule and
every rule below are testable without a clock or a socket.

- Before any session was ever established (``connect()`` is waiting), a failure is final,
  except once when the failed attempt says an immediate retry can succeed (a stale cached PSK
  was dropped, or the hub closed KKpsk0 and XXpsk2 will tell why). A *persistent* schedule (a
  client started in the background, ``run_in_thread``) retries those failures as it would
  after a session, except a refusal (a refused handshake, close code 1008): a hub that is not
  up yet may be soon, credentials it refused stay refused.
- After that, a dropped link is retried with capped exponential backoff and jitter; a handshake
  that timed out is retried too (a hub that restarts can be slow), a refused one (wrong
  password, a pin mismatch) is not: retrying cannot help.
- A session that lasted ``stable_after`` seconds resets the backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hivemind_client.errors import ConnectionFailed, HandshakeFailed, HiveMindError

__all__ = [
    "ConnectionEnd",
    "GiveUp",
    "Outcome",
    "RandomSource",
    "ReconnectPolicy",
    "ReconnectSchedule",
    "Retry",
]


_POLICY_VIOLATION = 1008
"""The close code with which a hub refuses who we are."""


class RandomSource(Protocol):
    """Where backoff jitter comes from (``random.Random`` will do; tests pass a fixed one)."""

    def uniform(self, a: float, b: float) -> float:
        """A number between ``a`` and ``b``."""
        ...


@dataclass(frozen=True)
class ReconnectPolicy:
    """Capped exponential backoff with jitter: delay n = min(cap, first * factor**n) +- jitter."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    factor: float = 2.0
    jitter: float = 0.25
    max_attempts: int | None = None
    stable_after: float = 10.0
    """A session must last this long before the backoff starts again from ``first_delay``."""

    def delay(self, attempt: int, rng: RandomSource) -> float:
        """Seconds to wait before reconnect attempt number ``attempt`` (0-based)."""
        base = min(self.max_delay, self.first_delay * self.factor**attempt)
        return max(0.0, base * (1 + rng.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True, slots=True)
class Retry:
    """Connect again after ``delay`` seconds."""

    delay: float
    reason: HiveMindError | None
    close_code: int | None = None


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop: nothing more will be tried. ``reason`` is None when the client asked to stop."""

    reason: HiveMindError | None
    close_code: int | None = None


Outcome = Retry | GiveUp


@dataclass(frozen=True, slots=True)
class ConnectionEnd:
    """How one connection ended, as the satellite core saw it."""

    failure: HiveMindError | None = None
    """The session's failure (None: the link simply closed)."""
    close_code: int | None = None
    established: bool = False
    """This connection completed its handshake."""
    lasted: float = 0.0
    """Seconds from the handshake's completion to the end."""
    fatal: bool = False
    """The session itself gave up (a refused handshake, a broken v3 link), not the socket."""
    timed_out: bool = False
    """The handshake deadline passed."""
    retry_now: bool = False
    """The session says an immediate second attempt can succeed."""
    stopping: bool = False
    """The client is closing."""


class ReconnectSchedule:
    """The reconnect decisions of one client, across its connections."""

    def __init__(self, policy: ReconnectPolicy | None, *, persistent: bool = False) -> None:
        self.policy = policy  # None: never reconnect
        self.persistent = persistent
        self.established_once = False
        self.attempt = 0
        self._quick_retry_used = False

    def decide(self, end: ConnectionEnd, rng: RandomSource) -> Outcome:
        """The outcome of a connection that just ended."""
        reason, code = end.failure, end.close_code
        if end.established:
            self.established_once = True
        if end.stopping:
            return GiveUp(None, code)
        if not self.established_once:
            if end.retry_now and not self._quick_retry_used and reason is not None:
                self._quick_retry_used = True
                return Retry(0.0, reason, code)
            if not self.persistent or code == _POLICY_VIOLATION:
                return GiveUp(reason or ConnectionFailed("the connection closed"), code)
        policy = self.policy
        if policy is None:
            return GiveUp(reason, code)
        if not end.timed_out and (end.fatal or isinstance(reason, HandshakeFailed)):
            return GiveUp(reason, code)  # wrong password after a reconnect: retrying cannot help
        if end.established and end.lasted >= policy.stable_after:
            self.attempt = 0  # a hub that drops us right after each handshake keeps backing off
        if policy.max_attempts is not None and self.attempt >= policy.max_attempts:
            return GiveUp(
                ConnectionFailed(f"gave up after {self.attempt} reconnect attempts"), code
            )
        delay = policy.delay(self.attempt, rng)
        self.attempt += 1
        return Retry(delay, reason, code)
