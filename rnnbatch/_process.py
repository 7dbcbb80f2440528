"""Who this process is, and whether a process named the same way is still alive.

A pid alone is not an identity: pids are reused. A process is named by its host, the host's
boot, its pid and its start time (``/proc/<pid>/stat`` field 22, in clock ticks since boot),
so a reused pid, a rebooted host or another machine with the same host name is never
mistaken for the process that wrote the name.
"""

import os
import socket
from functools import cache
from pathlib import Path


@cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time since boot, or "" where /proc does not say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # fields after "(comm)": state is field 3


def identity() -> dict:
    """This process's name: host, boot, pid and start time."""
    return {"host": socket.gethostname(), "boot": _boot_id(), "pid": os.getpid(),
            "pid_start": _start_time(os.getpid())}


def is_local(name: dict) -> bool:
    """Whether ``name`` is a process of this host since its last boot."""
    return name.get("host") == socket.gethostname() and name.get("boot", "") == _boot_id()


def is_dead(name: dict) -> bool:
    """True only when ``name`` is a process of this host that is certainly gone. A process of
    another host, or one this host cannot see, is not known to be dead."""
    if not is_local(name):
        return False
    pid = name.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive: another user's process
        pass
    started = name.get("pid_start") or ""
    return bool(started) and _start_time(pid) not in ("", started)  # the pid was reused
