"""Leases: which running flow owns a journal key, across processes and tills.

A durable journal's ``acquire(key)`` writes a lease row: the owner (one per journal
object), the host, the process and an expiry. Another flow may take the key when the
lease has expired, or at once when its owner is *provably* dead: the lease was taken
on this very machine (same host id) and its process is gone (``os.kill(pid, 0)``
fails, or the pid now belongs to another process, or the machine has rebooted since).
So ``recover()`` in a fresh process after a crash does not wait out the expiry. A
lease held on another machine, or by a process that cannot be checked (Windows), is
left until it expires.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import secrets
import socket
import sys
import threading
from pathlib import Path

from attrs import frozen

from gongji.errors import LeaseLost

__all__ = ["DEFAULT_LEASE_SECONDS", "LeaseHolder", "lease_lost", "new_holder", "provably_dead"]

#: Longer than any flow runs: every request is bounded (connect 3 s, read 10 s, reads
#: retried twice, a payment polled 15 x 2 s), and a journal write by the holder
#: renews the lease once a quarter of it is gone.
DEFAULT_LEASE_SECONDS = 300

_live_owners: set[str] = set()
_live_lock = threading.Lock()


@frozen
class LeaseHolder:
    """Who holds (or asks for) a lease: a journal object in a process on a machine."""

    owner: str  # unique per journal object
    host: str  # this machine (and pid namespace)
    pid: int
    process: str  # "<boot id>:<start time>" where /proc tells, else ""


def new_holder() -> LeaseHolder:
    """A holder for a new journal object; counted alive until ``forget()`` (at close)."""
    holder = LeaseHolder(
        owner=f"{host_id()}-{os.getpid()}-{secrets.token_hex(6)}",
        host=host_id(),
        pid=os.getpid(),
        process=_process_identity(os.getpid()),
    )
    with _live_lock:
        _live_owners.add(holder.owner)
    return holder


def forget(holder: LeaseHolder) -> None:
    """The journal object is closed: its leases may be taken at once by others here."""
    with _live_lock:
        _live_owners.discard(holder.owner)


def provably_dead(holder: LeaseHolder) -> bool:
    """True only when the lease's owner certainly no longer runs."""
    if holder.host != host_id():
        return False  # another machine: only its expiry can tell
    if holder.pid == os.getpid() and holder.process == _process_identity(os.getpid()):
        with _live_lock:
            return holder.owner not in _live_owners  # a journal object of this process, closed
    if sys.platform == "win32":  # os.kill(pid, 0) is not a harmless probe there
        return False
    boot, _, started = holder.process.partition(":")
    if boot and boot != _boot_id():
        return True  # taken before this machine last started
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, as another user
    stat = _stat(holder.pid)
    if stat is None:
        return False
    state, now_started = stat
    # A zombie has ended (only its exit status waits); another start time is another process.
    return state == "Z" or bool(started and now_started != started)


@functools.cache
def host_id() -> str:
    """This machine, as far as its processes can be checked: the machine id, the host name
    and the pid namespace (containers on one kernel do not see each other's processes)."""
    parts = [socket.gethostname()]
    for candidate in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            parts.append(Path(candidate).read_text(encoding="ascii").strip())
            break
        except (OSError, UnicodeDecodeError):
            continue
    with contextlib.suppress(OSError):
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@functools.cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _process_identity(pid: int) -> str:
    stat = _stat(pid)
    if stat is None or not _boot_id():
        return ""
    return f"{_boot_id()}:{stat[1]}"


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of ``pid``, from /proc; None elsewhere."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields follow the last ')'.
    fields = text.rpartition(")")[2].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def lease_lost(key: str) -> LeaseLost:
    """The refusal of a write by a flow that no longer holds ``key``'s lease."""
    return LeaseLost(
        f"The lease on the sale with key {key!r} ran out while this call ran, and another "
        "flow (recover(), a retry, another till) took the sale over; nothing was written "
        "over what that flow did.",
        key=key,
    )
