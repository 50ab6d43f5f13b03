"""The sign-in throttle (sync/server/throttle.py), on a clock the test moves."""

from sync.server.throttle import CAP_S, MAX_KEYS, WINDOW_MS, SignInThrottle


class Clock:
    def __init__(self):
        self.ms = 1_800_000_000_000

    def __call__(self):
        return self.ms

    def wait(self, s: float):
        self.ms += int(s * 1000)


def fail(t, name, address, n):
    for _ in range(n):
        t.failed(name, address)


def test_the_owners_own_typos_cost_seconds_growing_to_a_cap():
    clock = Clock()
    t = SignInThrottle(now=clock)
    fail(t, "wangfang", "10.0.0.1", 4)
    assert t.wait_s("wangfang", "10.0.0.1") == 0
    waits = []
    for _ in range(14):
        t.failed("wangfang", "10.0.0.1")
        waits.append(t.wait_s("wangfang", "10.0.0.1"))
    assert waits[:5] == [1, 2, 4, 8, 16]
    assert max(waits) == waits[-1] == CAP_S
    clock.wait(CAP_S + 1)
    assert t.wait_s("wangfang", "10.0.0.1") == 0                     # a slow-down, never a lock


def test_failures_elsewhere_do_not_slow_the_owners_phone_or_usual_address():
    clock = Clock()
    t = SignInThrottle(now=clock)
    t.succeeded("wangfang", "10.0.0.1")                              # the owner signed in from here before
    for n in range(40):
        t.failed("wangfang", f"203.0.113.{n}")                       # a guesser spread over 40 addresses
    assert t.wait_s("wangfang", "198.51.100.1") > 0                  # a new place waits
    assert t.wait_s("wangfang", "10.0.0.1") == 0                     # the owner's usual address does not
    assert t.wait_s("wangfang", "198.51.100.1", trusted_device=True) == 0  # nor the owner's own phone


def test_a_sprayer_is_slowed_by_address_and_signing_in_does_not_wipe_it():
    clock = Clock()
    t = SignInThrottle(now=clock)
    for n in range(10):
        t.failed(f"user{n}", "198.51.100.7")
    assert t.wait_s("someone-else", "198.51.100.7") > 0
    t.succeeded("my-own-account", "198.51.100.7")
    assert t.wait_s("someone-else", "198.51.100.7") > 0
    assert t.wait_s("someone-else", "192.0.2.1") == 0


def test_failures_age_out_after_the_window():
    clock = Clock()
    t = SignInThrottle(now=clock)
    fail(t, "li", "10.0.0.1", 9)
    assert t.wait_s("li", "10.0.0.1") > 0
    clock.wait(WINDOW_MS / 1000 + 1)
    assert t.wait_s("li", "10.0.0.1") == 0


def test_memory_stays_bounded_whatever_names_are_tried():
    clock = Clock()
    t = SignInThrottle(max_keys=100, now=clock)
    for n in range(5000):
        t.failed(f"made-up-name-{n}", f"10.{n // 250}.{n % 250}.1")
    assert t.size() <= 3 * 100
    assert MAX_KEYS >= 1000


def test_unknown_and_real_names_are_treated_alike():
    clock = Clock()
    t = SignInThrottle(now=clock)
    fail(t, "wangfang", "10.0.0.1", 6)
    fail(t, "no-such-person", "10.0.0.2", 6)
    assert t.wait_s("wangfang", "10.0.0.1") == t.wait_s("no-such-person", "10.0.0.2") > 0


def test_a_slowed_address_is_put_on_the_trail_once_a_while_not_once_a_request():
    """Every refused attempt wrote an audit row: 3,000 requests without an account grew
    the store by 8 MB."""
    from sync.server.throttle import SLOWED_AUDIT_MS
    clock = Clock()
    t = SignInThrottle(now=clock)
    told = [t.first_slowed("203.0.113.9") for _ in range(3000)]
    assert told[0] and not any(told[1:])
    assert t.first_slowed("198.51.100.7")                  # another address: its own row
    clock.wait(SLOWED_AUDIT_MS / 1000 + 1)
    assert t.first_slowed("203.0.113.9")                   # a while later: said again
