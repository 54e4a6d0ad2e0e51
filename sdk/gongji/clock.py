"""Beijing time, whatever the till's OS time zone says.

Every time the national interface sends, stores or compares is Beijing time (UTC+8):
``inf_time``, the msgid's time part, ``setl_time``, ``begntime``, ``fee_ocur_time`` and
the reconciliation day. Public clients get it right only because their machines run in
China; a till whose OS runs in UTC (most containers) would be 8 hours off and, between
00:00 and 08:00 Beijing time, a day behind. So gongji never reads the OS zone: every
moment is read with ``now()`` (or a clock a test passes in), and every wire text is made
and read here.

The zone comes from ``zoneinfo``; the ``tzdata`` package supplies it on a machine
without a zone database (Windows, slim containers).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

#: China Standard Time. One zone for the whole country; no daylight saving since 1991.
BEIJING = ZoneInfo("Asia/Shanghai")

#: A clock: returns the current moment, time-zone aware. The flows and gateways take one,
#: so that a test (or a deterministic simulation) can decide what "now" is.
Clock = Callable[[], datetime.datetime]

_WIRE_TIME = "%Y-%m-%d %H:%M:%S"  # inf_time, setl_time, begntime, fee_ocur_time (DT 19)
_MSGID_TIME = "%Y%m%d%H%M%S"  # the time part of a msgid, and of the centre's ids
_WIRE_DAY = "%Y-%m-%d"  # stmt_begndate, stmt_enddate, brdy (D)


def now() -> datetime.datetime:
    """The current moment in Beijing time. The default clock of every flow and gateway."""
    return datetime.datetime.now(BEIJING)


def in_beijing(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` as Beijing wall-clock time.

    A naive moment is taken as Beijing wall-clock time already, never as the OS's local
    time: every naive time gongji meets is the centre's (``setl_time``, as journals
    written before this module kept it) or a test's "at 00:35 Beijing time".
    """
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        return moment.replace(tzinfo=BEIJING)
    return moment.astimezone(BEIJING)


def day(moment: datetime.datetime) -> datetime.date:
    """The Beijing date of ``moment``: the day a settlement belongs to at the centre."""
    return in_beijing(moment).date()


def today(clock: Clock = now) -> datetime.date:
    """Today's Beijing date, by ``clock``."""
    return day(clock())


def wire_time(moment: datetime.datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time (``inf_time``, ``setl_time``, ``begntime``...)."""
    return in_beijing(moment).strftime(_WIRE_TIME)


def msgid_time(moment: datetime.datetime) -> str:
    """``yyyyMMddHHmmss`` in Beijing time: the 14 digits in the middle of a msgid."""
    return in_beijing(moment).strftime(_MSGID_TIME)


def wire_day(value: datetime.date) -> str:
    """``yyyy-MM-dd`` for a date field (``stmt_begndate``...).

    A ``datetime`` is first put in Beijing time, so its date is the Beijing one.
    """
    if isinstance(value, datetime.datetime):
        value = day(value)
    return value.strftime(_WIRE_DAY)


def from_wire_time(text: str) -> datetime.datetime | None:
    """A ``yyyy-MM-dd HH:mm:ss`` the centre sent, as a Beijing-aware moment; None when it
    is empty or not a time (the field is informative; nothing is decided on it alone)."""
    try:
        parsed = datetime.datetime.strptime(text, _WIRE_TIME)
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=BEIJING)
