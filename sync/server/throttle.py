"""Slowing down password guessing without locking the owner out.

Failures are counted over a sliding window (15 minutes) under three keys, and each
count past its allowance makes the next attempt under that key wait, twice as long per
extra failure, up to a cap (a slow-down, never a lock):

- the client address: a sprayer trying many accounts from one place (10 failures free);
- the account and the address together: the owner's own typos cost the owner little
  (5 free);
- the account, from anywhere: a guesser spread over many addresses (5 free). A device
  that already holds a live sign-in of the account (the owner's phone, by its device
  id) or an address the account signed in from successfully is not slowed by the
  failures made elsewhere: a stranger hammering the account does not keep its owner out.

The answer does not depend on whether the account exists (the same keys, the same
waits). Memory is bounded: at most MAX_KEYS keys per counter, the oldest dropped first,
and expired failures are pruned as keys are touched.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .. import clock

WINDOW_MS = 15 * 60 * 1000
TRUST_MS = 30 * 24 * 3600 * 1000  # an address the owner signed in from stays theirs a month
CAP_S = 15 * 60
FREE = {"address": 10, "account_address": 5, "account": 5}
MAX_KEYS = 10_000
# One "login_slowed" row on the trail per address in this long: one per refused attempt let
# anyone, without an account, grow the store by a row a request (0.8 MB/s from one client).
SLOWED_AUDIT_MS = 15 * 60 * 1000


class _Counter:
    """Failure times per key, for at most MAX_KEYS keys (least recently touched dropped)."""

    def __init__(self, max_keys: int = MAX_KEYS, window_ms: int = WINDOW_MS):
        self.max_keys, self.window_ms = max_keys, window_ms
        self._times: OrderedDict[str, list[int]] = OrderedDict()

    def recent(self, key: str, now: int) -> list[int]:
        times = [t for t in self._times.get(key, ()) if now - t < self.window_ms][-64:]
        if times:
            self._times[key] = times
            self._times.move_to_end(key)
        else:
            self._times.pop(key, None)
        return times

    def add(self, key: str, now: int) -> None:
        self.recent(key, now)
        self._times.setdefault(key, []).append(now)
        self._times.move_to_end(key)
        while len(self._times) > self.max_keys:
            self._times.popitem(last=False)

    def forget(self, key: str) -> None:
        self._times.pop(key, None)

    def __len__(self) -> int:
        return len(self._times)


def _wait_ms(times: list[int], free: int, now: int) -> int:
    """How long the next attempt must wait: nothing while fewer than `free` failures,
    then 1 s, 2 s, 4 s ... after the latest failure, at most CAP_S."""
    extra = len(times) - free
    if extra < 0:
        return 0
    delay = min(2 ** min(extra, 20), CAP_S) * 1000
    return max(0, times[-1] + delay - now)


class SignInThrottle:
    def __init__(self, max_keys: int = MAX_KEYS, now=clock.wall_ms):
        self.now = now
        self._lock = threading.Lock()
        self._counters = {name: _Counter(max_keys) for name in FREE}
        self._trusted = _Counter(max_keys, TRUST_MS)  # account|address pairs that signed in lately
        self._told = _Counter(max_keys, SLOWED_AUDIT_MS)  # addresses whose slowing is on the trail

    @staticmethod
    def _keys(username: str, address: str) -> dict[str, str]:
        name = (username or "")[:40].lower()
        return {"address": address or "-", "account_address": f"{name}|{address}", "account": name}

    def wait_s(self, username: str, address: str, trusted_device: bool = False) -> int:
        """Seconds before this attempt may be tried (0: go ahead)."""
        keys = self._keys(username, address)
        now = self.now()
        with self._lock:
            trusted = trusted_device or bool(self._trusted.recent(keys["account_address"], now))
            waits = [_wait_ms(self._counters[k].recent(v, now), FREE[k], now)
                     for k, v in keys.items() if not (k == "account" and trusted)]
        longest = max(waits)
        return 0 if longest <= 0 else (longest + 999) // 1000

    def first_slowed(self, address: str) -> bool:
        """Whether this refused attempt is the first from its address in SLOWED_AUDIT_MS:
        the one to put on the audit trail."""
        key, now = address or "-", self.now()
        with self._lock:
            if self._told.recent(key, now):
                return False
            self._told.add(key, now)
            return True

    def failed(self, username: str, address: str) -> None:
        now = self.now()
        with self._lock:
            for k, v in self._keys(username, address).items():
                self._counters[k].add(v, now)

    def succeeded(self, username: str, address: str) -> None:
        """The owner is in: their own typos are forgiven, and this address is theirs for a
        while. The address's count stays: a sprayer with one valid account of their own
        must not wipe it by signing in."""
        keys = self._keys(username, address)
        now = self.now()
        with self._lock:
            self._counters["account_address"].forget(keys["account_address"])
            self._trusted.add(keys["account_address"], now)

    def size(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._counters.values()) + len(self._trusted) + len(self._told)
