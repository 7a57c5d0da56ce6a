"""Process life cycle hooks shared by every sender: exit, fork, multiprocessing.

- Interpreter exit (``atexit``): every sender of this process gets one shared
  deadline (the largest ``exit_timeout``, 1 s by default) to deliver, then
  spools what is left.
- ``os.fork()``: in the child, every sender drops what the parent queued and
  forgets the parent's thread and connection.
- ``multiprocessing`` workers end with ``os._exit()``, which skips ``atexit``:
  the same exit flush is registered as a ``multiprocessing.util.Finalize``,
  which their bootstrap runs on a normal exit (``pool.close(); pool.join()``,
  a returning ``Process``). A terminated worker (``pool.terminate()``, the
  pool's ``with`` block) gets no chance to flush. The bootstrap clears the
  finalizers of a process before it runs the target (a ``forkserver`` child
  unpickles its target, and so may build a client, before that): an
  after-fork callback, which the bootstrap runs right after clearing,
  registers the flush again.

One hook of each kind is registered per process, not one per client.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pigeon._sender import Sender

__all__ = ["close_all", "manage"]

_senders: weakref.WeakSet[Sender] = weakref.WeakSet()
_hooks_registered = False
_finalizer: Any = None  # multiprocessing.util.Finalize of the exit flush, once registered
_finalizer_pid = 0
_watching_bootstrap = False


class _Token:
    """A weak-referenceable key for ``multiprocessing.util.register_after_fork``."""


_token = _Token()


def manage(sender: Sender) -> None:
    """Flush ``sender`` at exit and reset it in forked children."""
    global _hooks_registered  # noqa: PLW0603  # one registration per process
    _senders.add(sender)
    if not _hooks_registered:
        _hooks_registered = True
        atexit.register(close_all)
        if hasattr(os, "register_at_fork"):  # POSIX only: there is no fork elsewhere
            os.register_at_fork(after_in_child=_after_fork_in_child)
    _finalize_in_multiprocessing_child()


def close_all(budget: float | None = None) -> None:
    """Close every sender of this process within one shared deadline (never raises)."""
    pid = os.getpid()
    senders = [s for s in list(_senders) if s.pid == pid]
    if not senders:
        return
    if budget is None:
        budget = max(s.policy.exit_timeout for s in senders)
    deadline = time.monotonic() + budget
    for sender in senders:
        try:  # noqa: SIM105  # contextlib is not imported by the SDK
            sender.close(deadline)
        except Exception:  # noqa: S110  # at exit nobody is left to tell
            pass


def _after_fork_in_child() -> None:
    for sender in list(_senders):
        try:
            sender.after_fork_in_child()
        except Exception:  # noqa: S112  # the child must start whatever happens
            continue
    # A multiprocessing child learns that it is one (its parent process) only
    # later, in its bootstrap, which then runs the after-fork callbacks.
    _finalize_in_multiprocessing_child()


def _on_multiprocessing_bootstrap(_token: object) -> None:
    _finalize_in_multiprocessing_child()


def _finalize_in_multiprocessing_child() -> None:
    """Register the exit flush with multiprocessing when this process is one of its workers."""
    global _finalizer, _finalizer_pid, _watching_bootstrap  # noqa: PLW0603  # one per process
    if _finalizer_pid == os.getpid() and _finalizer is not None and _finalizer.still_active():
        return
    multiprocessing = sys.modules.get("multiprocessing")
    util = sys.modules.get("multiprocessing.util")
    if multiprocessing is None or util is None:
        return
    try:
        if not _watching_bootstrap:  # the registry of callbacks survives forks
            util.register_after_fork(_token, _on_multiprocessing_bootstrap)
            _watching_bootstrap = True
        if multiprocessing.parent_process() is None:
            return
        _finalizer = util.Finalize(None, close_all, exitpriority=100)
        _finalizer_pid = os.getpid()  # an inherited Finalize never runs in a child
    except Exception:  # noqa: S110  # an older or patched multiprocessing: no worker flush
        pass
