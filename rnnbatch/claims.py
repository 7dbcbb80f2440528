"""Claims: a lease on a run, so that of all the processes sharing a results directory, on
however many hosts, one live process computes it.

A claim is ``RESULTS/.claims/<run_id>.lock``, a JSON record of its holder (host, boot, pid,
start time, a random token, its lease). It is

- **created exclusively** (``O_EXCL``); one that cannot be written whole (a full disk) is
  removed, and one being written (empty for a moment) is judged by its lease like any other;
- **renewed**: its holder touches it every ``lease / 4`` seconds (:meth:`Claims.heartbeat`);
- **stale** when not renewed for ``lease`` seconds, whatever its pid or timestamps say, or at
  once when its holder is a process of this host that is gone (:mod:`rnnbatch._process`).
  Age is the claim's mtime against a probe file touched now in the same directory, so hosts
  sharing a file system need not agree on the time; a timestamp in the future by more than
  the lease is stale too;
- **taken over** under a takeover lock (``<run_id>.takeover``, ``O_EXCL``): the taker checks
  that the claim is still the stale file it judged (same inode and mtime) and replaces it
  atomically, so of several processes racing for one dead claim exactly one wins;
- **released** by its holder only while it is still theirs.
"""

import json
import os
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from . import _process
from .errors import OutputError

LEASE_SECONDS = 120.0


def _pause(step: str) -> None:
    """A no-op between a takeover's steps; the race tests put a barrier here."""


class Claims:
    """This process's claims under ``root`` (``RESULTS/.claims``)."""

    def __init__(self, root: str | Path, lease: float = LEASE_SECONDS, on_takeover=None):
        self.root = Path(root)
        self.lease = float(lease)
        self.on_takeover = on_takeover  # called with the run id after a stale claim is taken
        self.token = uuid.uuid4().hex
        self.held: dict[str, Path] = {}
        self._lock = threading.Lock()

    def _path(self, run_id: str) -> Path:
        return self.root / f"{run_id}.lock"

    def _body(self) -> bytes:
        record = {**_process.identity(), "token": self.token, "lease": self.lease,
                  "taken": round(time.time(), 3)}
        return (json.dumps(record, sort_keys=True) + "\n").encode()

    def take(self, run_id: str) -> bool:
        """Claim ``run_id``; False when a live holder has it."""
        path = self._path(run_id)
        for _ in range(3):  # a claim can vanish or change between our steps: look again
            if self._create(path):
                break
            try:
                seen = path.stat()
            except FileNotFoundError:
                continue
            if not self._stale(path, seen):
                return False
            _pause("judged stale")
            if self._take_over(path, seen):
                if self.on_takeover:
                    self.on_takeover(run_id)
                break
        else:
            return False
        with self._lock:
            self.held[run_id] = path
        return True

    def _create(self, path: Path, exclusive: bool = True) -> bool:
        """Write this process's record to ``path``; False when ``exclusive`` and it exists.
        A record that cannot be written whole is removed (an OutputError says why)."""
        flags = os.O_CREAT | os.O_WRONLY | (os.O_EXCL if exclusive else os.O_TRUNC)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            return False
        except OSError as exc:
            raise self._unwritable(exc) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self._body())
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise self._unwritable(exc) from None
        return True

    def _unwritable(self, exc: OSError) -> OutputError:
        return OutputError(f"Cannot write a claim in {self.root}: {exc.strerror or exc}. "
                           "Free some space or choose a writable --out.")

    def _take_over(self, path: Path, seen: os.stat_result) -> bool:
        guard = path.with_suffix(".takeover")
        try:
            os.close(os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            try:  # a taker that died inside this block leaves its guard: stale after a lease
                if abs(self._now() - guard.stat().st_mtime) > self.lease:
                    guard.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            return False
        try:
            now = path.stat()
            if (now.st_ino, now.st_mtime_ns) != (seen.st_ino, seen.st_mtime_ns):
                return False  # renewed, or already taken over, since we judged it
            _pause("replacing")
            tmp = self.root / f".{self.token}.{threading.get_ident()}.tmp"
            self._create(tmp, exclusive=False)
            os.replace(tmp, path)
            return True
        except FileNotFoundError:
            return False
        finally:
            guard.unlink(missing_ok=True)

    def _now(self) -> float:
        """The file system's time now: the mtime of a file touched now (or this host's clock)."""
        probe = self.root / f".clock.{self.token}"
        try:
            probe.touch()
            now = probe.stat().st_mtime
            probe.unlink()
            return now
        except OSError:
            return time.time()

    def _stale(self, path: Path, seen: os.stat_result) -> bool:
        holder = read_holder(path)
        if holder is not None and _process.is_dead(holder):
            return True
        lease = max(self.lease, _lease_of(holder))
        return abs(self._now() - seen.st_mtime) > lease

    def release(self, run_id: str) -> None:
        """Drop the claim on ``run_id`` if it is still this process's."""
        with self._lock:
            path = self.held.pop(run_id, None)
        if path is not None and _token_of(read_holder(path)) == self.token:
            path.unlink(missing_ok=True)

    def release_all(self) -> None:
        for run_id in list(self.held):
            self.release(run_id)

    def renew(self) -> None:
        """Touch every claim this process holds; forget any another process took over."""
        with self._lock:
            held = list(self.held.items())
        for run_id, path in held:
            try:
                if _token_of(read_holder(path)) == self.token:
                    os.utime(path)
                    continue
            except OSError:
                continue  # a passing file-system fault: try again at the next beat
            with self._lock:
                self.held.pop(run_id, None)

    @contextmanager
    def heartbeat(self):
        """Renew this process's claims every ``lease / 4`` seconds for the block."""
        stop = threading.Event()

        def beat():
            while not stop.wait(self.lease / 4):
                self.renew()

        thread = threading.Thread(target=beat, name="rnnbatch-claims", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()

    def holder_of(self, run_id: str) -> dict | None:
        return read_holder(self._path(run_id))


def read_holder(path: Path) -> dict | None:
    """The claim's record, or None when it is gone or unreadable (any bytes at all)."""
    try:
        record = json.loads(path.read_bytes().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _token_of(holder: dict | None):
    return holder.get("token") if holder else None


def _lease_of(holder: dict | None) -> float:
    lease = holder.get("lease") if holder else None
    return float(lease) if isinstance(lease, (int, float)) and 0 < lease < 1e7 else 0.0
