"""What the national endpoint remembers beyond the centre's own records (``gongji_mock.records``)."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from attrs import frozen

from gongji.identity import IdNumber
from gongji.model import LineItem
from gongji_mock.national.wire import SettlementOut
from gongji_mock.records import Serial, Table


@frozen
class SignIn:
    fixmedins_code: str
    opter_no: str
    #: The Beijing day it was made (``yyyy-MM-dd``); "" in a state file written before the
    #: mock dated sign-ins: such a sign-in lasts until 9002.
    day: str = ""


@frozen
class Seen:
    """A message that reached its transaction code: what it said and what was answered."""

    infno: str
    fingerprint: str
    body: bytes  # the first answer, replayed byte for byte


#: chrg_bchno of 2205 that names every unsettled line of the visit (NATIONAL.md §8).
EVERY_BATCH = "0000"


@frozen
class FeeLine:
    """A fee line uploaded for a visit (2204), in its charge batch; withdrawn by 2205."""

    feedetl_sn: str
    chrg_bchno: str
    item: LineItem
    withdrawn: bool = False


@frozen
class Visit:
    """An outpatient visit (2201), its diagnosis (2203), the fee lines uploaded for it
    (2204, withdrawn ones kept: their feedetl_sn is not used again), its settlement, and
    whether its registration was cancelled (2202)."""

    psn_no: str
    patient: IdNumber
    fixmedins_code: str
    lines: tuple[FeeLine, ...] = ()
    setl_id: str | None = None
    ipt_otp_no: str = ""
    diagnosed: bool = False
    cancelled: bool = False

    def standing(self, batch: str = EVERY_BATCH) -> tuple[FeeLine, ...]:
        """The lines not withdrawn, of charge batch ``batch`` (every batch: "0000")."""
        return tuple(
            line
            for line in self.lines
            if not line.withdrawn and batch in (EVERY_BATCH, line.chrg_bchno)
        )


@frozen
class TracedPack:
    """A traceability code as the mock recorded it (3505 or a 2102 line sold, 3506
    returned): ``split`` when part of its pack was sold (``trdn_flag`` 1), ``unit`` the
    pricing unit it was sold in (``min_prcunt_type``)."""

    fixmedins_code: str
    setl_id: str
    returned: bool = False
    split: bool = False
    unit: str = ""


@frozen
class Settled:
    """What the endpoint knows about a settlement beyond the centre's record."""

    fixmedins_code: str
    msgid: str
    mdtrt_id: str
    psn_no: str
    setl_time: str
    output: SettlementOut


@frozen
class StoredFile:
    """A file uploaded with 9101, or a result the centre wrote for 9102 to hand back."""

    fixmedins_code: str
    filename: str
    content: bytes
    kind: Literal["upload", "result"]
    expires: datetime.datetime  # dld_endtime


class NationalRecords:
    """Sign-ins, messages seen, reversals, settlements as answered, visits, files, the
    reply serial."""

    def __init__(self) -> None:
        self.sign_ins: Table[str, SignIn] = Table("national.sign_ins", str, SignIn)
        self.seen: Table[str, Seen] = Table("national.seen", str, Seen)
        # (omsgid, oinfno) -> the first answer to that 2601
        self.reversals: Table[tuple[str, str], bytes] = Table(
            "national.reversals", tuple[str, str], bytes, on_load=self._index
        )
        self.settled: Table[str, Settled] = Table(
            "national.settled", str, Settled, on_load=self._index
        )
        self.visits: Table[str, Visit] = Table("national.visits", str, Visit)
        self.files: Table[str, StoredFile] = Table("national.files", str, StoredFile)
        # traceability code -> the pack it was sold (and returned) as (3505/3506)
        self.traced: Table[str, TracedPack] = Table("national.traced", str, TracedPack)
        self.serial = Serial("national.serial")  # of inf_refmsgid
        self.reversed: set[str] = set()  # msgids named by a 2601
        self.setl_id_by_msgid: dict[str, str] = {}

    def tables(self) -> list[Table[Any, Any]]:
        return [
            self.sign_ins,
            self.seen,
            self.reversals,
            self.settled,
            self.visits,
            self.files,
            self.traced,
            self.serial.table,
        ]

    def add_reversal(self, omsgid: str, oinfno: str, answer: bytes) -> None:
        self.reversals.put((omsgid, oinfno), answer)
        self.reversed.add(omsgid)

    def add_settled(self, setl_id: str, settled: Settled) -> None:
        self.settled.put(setl_id, settled)
        self.setl_id_by_msgid[settled.msgid] = setl_id

    def _index(self) -> None:
        self.reversed = {omsgid for omsgid, _ in self.reversals}
        self.setl_id_by_msgid = {s.msgid: setl_id for setl_id, s in self.settled.items()}
