"""numba's ``njit`` for every kernel, with where (and whether) to cache them decided once.

numba caches a ``cache=True`` kernel in ``NUMBA_CACHE_DIR`` if set, else beside its source
(``__pycache__``), else under the user's cache directory (XDG_CACHE_HOME or HOME), and when
none of them is writable it raises at decoration time, that is, at import: a read-only
install run with an unwritable HOME (a container, cron with HOME=/) could not even show
``--help``. So, before any kernel is decorated:

- if numba finds a writable place, it is used as numba chooses (a NUMBA_CACHE_DIR the user
  set comes first);
- else, unless the user set NUMBA_CACHE_DIR, the cache goes to a private per-user directory
  under the temp dir, ``rnnbatch-numba-<uid>``;
- else kernels compile without a cache: everything runs, and every process compiles the
  kernels it uses (seconds to a minute).

Worker processes import this module again and reach the same decision. With a cache,
kernels compile once per machine: :func:`compile_lock` keeps two processes from compiling them
at once.
"""

import os
import stat
import tempfile
from contextlib import contextmanager
from functools import partial

import numba
from filelock import FileLock
from numba.core.caching import FunctionCache


def _probe():
    """Stands in for a kernel: it sits in the kernels' directory, so numba's locators judge
    it as they will judge them."""


def _cache_dir() -> str | None:
    """The directory numba would cache a kernel in, or None when it cannot cache."""
    try:
        return FunctionCache(_probe).cache_path  # what cache=True does when it decorates a kernel
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return None


def _private_temp_dir() -> str | None:
    """The per-user fallback directory, made if need be; None when it cannot be made or
    others could write to it (numba unpickles what it finds in its cache)."""
    try:
        path = os.path.join(tempfile.gettempdir(), f"rnnbatch-numba-{os.getuid()}")
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:  # includes gettempdir's "no usable temporary directory"
        return None
    private = info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return path if stat.S_ISDIR(info.st_mode) and private else None


def _decide_cache_dir() -> str | None:
    found = _cache_dir()
    if found or numba.config.CACHE_DIR:  # the user's, even when unwritable: not ours to replace
        return found
    fallback = _private_temp_dir()
    if fallback is None:
        return None
    numba.config.CACHE_DIR = fallback  # read by numba's UserProvidedCacheLocator
    return _cache_dir()


CACHE_DIR = _decide_cache_dir()  # where the kernels are cached (this module's), None: nowhere
CACHING = CACHE_DIR is not None


@contextmanager
def compile_lock():
    """Held while a process compiles kernels or loads them: another rnnbatch process of this
    machine (a cron job overlapping the last, a second shard) waits, then loads what this one
    compiled from the cache instead of compiling it too. A lock file in the cache directory
    (flock: released when its holder dies, however it dies); none without a cache, where every
    process compiles its own."""
    if CACHE_DIR is None:
        yield
        return
    with FileLock(os.path.join(CACHE_DIR, "rnnbatch-compile.lock")):
        yield


# numba.njit with the caching decided above; use it as numba's: @njit or @njit(forceinline=True).
# Helpers that must sit inside their callers' loops (to vectorise, or to save a call per series)
# take forceinline, LLVM's alwaysinline: compiled once, then inlined by LLVM, the same code in
# the end. numba's own inline="always" copies and retypes the helper's IR at every call site:
# leaving it cut the course's nets' cold compile by a third (bench_compile.py).
njit = partial(numba.njit, cache=CACHING)
