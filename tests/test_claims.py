"""Claims are leases: renewed by a live holder, stale when not renewed (on any host, whatever
the pid or timestamps say), created whole, taken over by exactly one of several racers."""

import errno
import json
import os
import threading
import time

import pytest

from rnnbatch import _process, claims
from rnnbatch.errors import OutputError

RUN = "0123456789abcdef"


def holder(**changes) -> dict:
    """A claim record of this process, with ``changes``."""
    return {**_process.identity(), "token": "someone", "lease": 1.0, **changes}


def write_claim(root, record, age: float = 0.0, run_id: str = RUN):
    """A claim as another process left it, last renewed ``age`` seconds ago."""
    path = root / f"{run_id}.lock"
    root.mkdir(parents=True, exist_ok=True)
    path.write_bytes(record if isinstance(record, bytes) else json.dumps(record).encode())
    then = time.time() - age
    os.utime(path, (then, then))
    return path


@pytest.fixture
def root(tmp_path):
    return tmp_path / ".claims"


def test_a_claim_is_created_with_its_holder_and_released(root):
    mine = claims.Claims(root, lease=60)
    assert mine.take(RUN)
    record = claims.read_holder(root / f"{RUN}.lock")
    assert record["token"] == mine.token and record["pid"] == os.getpid() and record["lease"] == 60
    assert not claims.Claims(root, lease=60).take(RUN)  # a live holder keeps it
    mine.release_all()
    assert not list(root.iterdir())


def test_another_hosts_claim_is_stale_once_not_renewed_for_a_lease(root):
    write_claim(root, holder(host="node-that-died", lease=60), age=30)
    assert not claims.Claims(root, lease=60).take(RUN)
    write_claim(root, holder(host="node-that-died", lease=60), age=61)
    assert claims.Claims(root, lease=60).take(RUN)


def test_the_longer_of_the_two_leases_decides(root):
    write_claim(root, holder(host="elsewhere", lease=600), age=100)
    assert not claims.Claims(root, lease=60).take(RUN)


def test_a_claim_renewed_in_the_future_is_stale(root):
    write_claim(root, holder(host="skewed-clock", lease=60), age=-10 * 60)
    assert claims.Claims(root, lease=60).take(RUN)


def test_a_dead_process_of_this_host_is_stale_at_once(root):
    dead = 2 ** 22 + 17  # above any pid_max: no such process
    write_claim(root, holder(pid=dead, lease=600))
    assert claims.Claims(root, lease=600).take(RUN)


def test_a_reused_pid_is_not_its_holder(root):
    """The pid is alive (it is this test's), but it started at another time."""
    write_claim(root, holder(pid_start="1", lease=600))
    assert claims.Claims(root, lease=600).take(RUN)


def test_a_live_process_of_this_host_that_stopped_renewing_is_stale(root):
    write_claim(root, holder(lease=1), age=5)
    assert claims.Claims(root, lease=1).take(RUN)


@pytest.mark.parametrize("garbage", [b"\xff\xfe\x00not utf-8\xc3", b"", b"[1, 2]", b"{\"pid\": \"x\"}"])
def test_an_unreadable_claim_is_judged_by_its_lease(root, garbage):
    write_claim(root, garbage, age=0)
    assert not claims.Claims(root, lease=60).take(RUN)
    write_claim(root, garbage, age=120)
    assert claims.Claims(root, lease=60).take(RUN)


def test_the_heartbeat_renews_and_keeps_only_its_own_claims(root):
    mine = claims.Claims(root, lease=60)
    assert mine.take(RUN) and mine.take("fedcba9876543210")
    path = root / f"{RUN}.lock"
    old = time.time() - 50
    os.utime(path, (old, old))
    write_claim(root, holder(host="took-it-over"), run_id="fedcba9876543210")
    mine.renew()
    assert path.stat().st_mtime > old + 40
    assert list(mine.held) == [RUN]
    mine.release_all()
    assert claims.read_holder(root / "fedcba9876543210.lock")["host"] == "took-it-over"


def test_heartbeat_thread_renews_every_quarter_lease(root):
    mine = claims.Claims(root, lease=1)
    assert mine.take(RUN)
    path = root / f"{RUN}.lock"
    old = time.time() - 100
    os.utime(path, (old, old))
    with mine.heartbeat():
        deadline = time.monotonic() + 30
        while path.stat().st_mtime < old + 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert path.stat().st_mtime > old + 50


@pytest.mark.parametrize("step", ["judged stale", "replacing"])
def test_of_several_racers_for_a_dead_claim_exactly_one_wins(root, monkeypatch, step):
    """All racers judge the claim stale, then pause (at ``step``) so that their next steps
    interleave; only one may come out holding it."""
    write_claim(root, holder(host="node-that-died", lease=1), age=100)
    racers = 4
    barrier = threading.Barrier(racers, timeout=1)

    def pause(at):
        if at == step:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass  # fewer racers reached this step: they lost earlier

    monkeypatch.setattr(claims, "_pause", pause)
    won = []

    def race():
        taker = claims.Claims(root, lease=60)  # the winner's claim stays fresh while others pause
        if taker.take(RUN):
            won.append(taker.token)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert claims.read_holder(root / f"{RUN}.lock")["token"] == won[0]
    assert not list(root.glob("*.takeover"))


def test_a_takeover_guard_left_by_a_dead_taker_lapses(root):
    write_claim(root, holder(host="node-that-died", lease=1), age=100)
    guard = root / f"{RUN}.takeover"
    guard.write_bytes(b"")
    assert not claims.Claims(root, lease=1).take(RUN)  # another taker may be at work
    then = time.time() - 100
    os.utime(guard, (then, then))
    assert claims.Claims(root, lease=1).take(RUN)
    assert not guard.exists()


def test_a_full_disk_is_one_clear_error_and_leaves_no_claim(root, monkeypatch):
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd, mode):
            self.fh = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(claims.os, "fdopen", Full)
    with pytest.raises(OutputError, match=r"^Cannot write a claim in .*\.claims: No space left on "
                                          r"device\. Free some space or choose a writable --out\.$"):
        claims.Claims(root).take(RUN)
    assert not list(root.iterdir())


def test_release_leaves_a_claim_another_process_took_over(root):
    mine = claims.Claims(root, lease=60)
    assert mine.take(RUN)
    write_claim(root, holder(host="took-it-over"))
    mine.release(RUN)
    assert claims.read_holder(root / f"{RUN}.lock")["host"] == "took-it-over"
