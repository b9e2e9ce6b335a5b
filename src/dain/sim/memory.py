"""Freed memory kept in the process while a simulation runs.

A vectorized local step allocates and frees the same large tensors every step: for the
imaging CNN at 100 clients the first convolution's output and its gradient are 6 MB each.
glibc's malloc maps blocks that large from the kernel afresh and trims its heap when they
are freed, so every step faulted its pages back in: 1,000 to 2,000 page faults per step
and 15 to 30% of its time (17-20 against 14-15 ms, `bench/models.py`'s workload;
PyTorch's CPU tuning guide points at the same cost when it recommends jemalloc or
tcmalloc). Raising glibc's two thresholds keeps those blocks on the heap for the next step.

glibc cannot return to its adaptive thresholds once they are set. On leaving, they stay
where the adaptive ones end after large blocks: blocks up to 32 MB from the heap, and the
heap trimmed when more than twice that is free (so the next run finds its blocks too).
Elsewhere than glibc this does nothing."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest: blocks up to this come from the heap
TRIM_THRESHOLD = 1024 * 1024 * 1024  # free heap kept while running (then 2 x MMAP_THRESHOLD)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018  (only glibc has it)
    except (OSError, AttributeError):
        return None
    return libc


@contextmanager
def reused_memory() -> Iterator[None]:
    """Freed blocks kept for reuse during the block (see the module)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    try:
        yield
    finally:
        if libc is not None:
            libc.mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)
