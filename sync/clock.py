"""Hybrid logical clock (Kulkarni et al.), encoded as a sortable string.

A stamp is `PPPPPPPPPPPPP-CCCCC-node`: physical milliseconds, a counter that breaks
ties when the physical part does not advance, and the node (device) id that makes
every stamp unique. Plain string comparison orders stamps.

A phone's clock may be hours wrong. The clock therefore takes its physical time
through `offset_ms` (the server's time minus the phone's, learned at each sync), or
better through the boot clock since the last sync (`anchor`), and never runs backwards: after receiving a stamp it only issues later ones, so an edit
made after seeing another always sorts after it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

MAX_COUNTER = 99_999
# The times a server may give: 2000-01-01 to 2100-12-31 (UTC), the range the township's
# dates are kept in. A phone learns no time outside it (a proxy's garbage).
PLAUSIBLE_MS = (946_684_800_000, 4_133_980_800_000)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def boot_ms() -> int | None:
    """Milliseconds since the phone booted, suspend included: a clock the person cannot
    set, unlike the date in the settings. None where the platform has none."""
    try:
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME) // 1_000_000
    except (AttributeError, OSError):
        return None


BOOT_ID = "/proc/sys/kernel/random/boot_id"


def boot_id() -> str | None:
    """Which boot this is (Linux and Android give each boot a random id): a boot clock
    that has run past the reading taken at the last sync is no proof that the phone did
    not restart since. None where the platform does not say."""
    try:
        with open(BOOT_ID, encoding="ascii") as f:
            return f.read(64).strip() or None
    except (OSError, ValueError):
        return None


def encode(physical_ms: int, counter: int, node: str) -> str:
    return f"{physical_ms:013d}-{counter:05d}-{node}"


def decode(stamp: str) -> tuple[int, int, str]:
    """Raises ValueError for anything that is not a stamp."""
    p, c, node = stamp.split("-", 2)
    # isascii: str.isdigit() also accepts other scripts' digits, which int() reads but
    # which sort after every real stamp (such a change would win every later edit).
    if (len(p) != 13 or len(c) != 5 or not (p + c).isascii() or not p.isdigit()
            or not c.isdigit() or not node):
        raise ValueError(f"not a clock stamp: {stamp!r}")
    return int(p), int(c), node


def physical_ms(stamp: str) -> int:
    return int(stamp[:13])


@dataclass
class HLC:
    node: str
    last_ms: int = 0
    counter: int = 0
    offset_ms: int = 0
    now: Callable[[], int] = wall_ms
    # The server's time at the last sync and the boot clock then: until the phone
    # restarts, "server time now" is that plus the boot time elapsed, whatever the
    # person does to the date in the settings meanwhile.
    anchor_server_ms: int | None = None
    anchor_boot_ms: int | None = None
    boot: Callable[[], int | None] = boot_ms
    # the boot the anchor was read in (None: the platform does not say, or an anchor kept
    # by a version from before): a restart is told by it, not only by the boot clock
    anchor_boot_id: str | None = None
    boot_id: Callable[[], str | None] = boot_id

    def physical(self) -> int:
        """Our best reading of the township's time."""
        b = self._same_boot()
        if b is not None:
            return self.anchor_server_ms + (b - self.anchor_boot_ms)
        return self.now() + self.offset_ms

    def written_ms(self) -> int:
        """The time a change written now is dated at: the township's time as `physical`
        reads it, never before the server's time at the last sync (a time known to have
        passed: a phone restarted with its date years back filed its visits in a year
        long reported)."""
        return max(self.physical(), self.anchor_server_ms if self.anchor_server_ms is not None else 0)

    def anchored(self) -> bool:
        """Whether the township's time is read from the boot clock since the last sync (no
        restart since): else it is the phone's date plus the offset learned then."""
        return self._same_boot() is not None

    def _same_boot(self) -> int | None:
        """The boot clock's reading when the phone has not restarted since the anchor."""
        if self.anchor_server_ms is None or self.anchor_boot_ms is None:
            return None
        b = self.boot()
        if b is None or b < self.anchor_boot_ms:
            return None
        # the boot clock alone took a phone restarted long enough ago for the same boot
        # (its visits dated from the last sync on, by the time the clock had run since)
        if self.anchor_boot_id is not None and self.boot_id() not in (None, self.anchor_boot_id):
            return None
        return b

    def anchor(self, server_ms: int) -> None:
        """Learn the server's time (from an answer's header)."""
        self.offset_ms = server_ms - self.now()
        b = self.boot()
        self.anchor_server_ms, self.anchor_boot_ms = (server_ms, b) if b is not None else (None, None)
        self.anchor_boot_id = self.boot_id() if b is not None else None

    def tick(self) -> str:
        """A new stamp, later than every stamp issued or received before."""
        pt = self.physical()
        if pt > self.last_ms:
            self.last_ms, self.counter = pt, 0
        else:
            self._bump()
        return encode(self.last_ms, self.counter, self.node)

    def receive(self, stamp: str) -> None:
        """Take note of a stamp seen in another replica's change."""
        p, c, _ = decode(stamp)
        if p > self.last_ms or (p == self.last_ms and c > self.counter):
            self.last_ms, self.counter = p, c

    def _bump(self) -> None:
        if self.counter >= MAX_COUNTER:
            # 100,000 stamps in one millisecond: borrow the next millisecond.
            self.last_ms, self.counter = self.last_ms + 1, 0
        else:
            self.counter += 1
