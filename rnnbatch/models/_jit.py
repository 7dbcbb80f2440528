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

Worker processes import this module again and reach the same decision.
"""

import os
import stat
import tempfile
from functools import partial

import numba
from numba.core.caching import FunctionCache


def _probe():
    """Stands in for a kernel: it sits in the kernels' directory, so numba's locators judge
    it as they will judge them."""


def _numba_can_cache() -> bool:
    try:
        FunctionCache(_probe)  # what cache=True does when it decorates a kernel
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return False
    return True


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


def _decide_caching() -> bool:
    if _numba_can_cache():
        return True
    if numba.config.CACHE_DIR:  # the user's choice, even when unwritable: not ours to replace
        return False
    fallback = _private_temp_dir()
    if fallback is None:
        return False
    numba.config.CACHE_DIR = fallback  # read by numba's UserProvidedCacheLocator
    return _numba_can_cache()


CACHING = _decide_caching()

# numba.njit with the caching decided above; use it as numba's: @njit or @njit(forceinline=True).
# Helpers that must sit inside their callers' loops (to vectorise, or to save a call per series)
# take forceinline, LLVM's alwaysinline: compiled once, then inlined by LLVM. numba's own
# inline="always" copies and retypes the helper's IR at every call site, and took half the
# kernels' cold compile.
njit = partial(numba.njit, cache=CACHING)
