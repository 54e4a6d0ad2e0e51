"""The row codec: a journal ``Entry`` as the queryable columns and one versioned JSON document.

The document is what a durable journal stores; every ID number in it is a ``SealedId``:
the masked form in clear (to list and reprint) and the full number sealed with the
journal key (to recover). Amounts are integer fen, enums their values, datetimes
RFC 3339 with their offset. ``ROW_VERSION`` changes whenever the document's shape does;
a row of another version is refused, never guessed at.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import msgspec

from gongji import clock as beijing
from gongji.errors import ConfigError
from gongji.gateways import CentreSettlement, Clearing, MutualAidShare
from gongji.gateways.uploads import Upload
from gongji.identity import IdNumber
from gongji.journal.entry import Entry, EntryState, UndoKind
from gongji.journal.sealing import JournalKey, Sealer
from gongji.model import (
    CashKind,
    ChronicDisease,
    Leg,
    LegSource,
    OwnerNamedBy,
    Purpose,
    Receipt,
    Refusal,
    Relation,
    RuleWarning,
    Setting,
)
from gongji.money import Fen

__all__ = [
    "ROW_VERSION",
    "Columns",
    "EntryRow",
    "SealedId",
    "columns",
    "decode_row",
    "encode_row",
    "entry_of",
    "masked",
    "row_of",
]

ROW_VERSION = 1


class SealedId(msgspec.Struct, frozen=True, kw_only=True):
    masked: str
    sealed: str

    def __repr__(self) -> str:
        return f"SealedId({self.masked!r})"


class ShareRow(msgspec.Struct, frozen=True, kw_only=True):
    owner_id: SealedId | None  # None: the centre did not name the owner
    amount: int
    relation: Relation | None = None


class RefusalRow(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    reason: str
    reason_zh: str = ""
    owner_id: SealedId | None = None


class ClearingRow(msgspec.Struct, frozen=True, kw_only=True):
    insutype: str
    clr_type: str
    setl_optins: str


class SettlementRow(msgspec.Struct, frozen=True, kw_only=True):
    setl_id: str
    mdtrt_id: str
    msgid: str
    total: int
    fund: int
    own_account: int
    mutual_aid: tuple[ShareRow, ...]
    cash: int
    balance: int = 0
    patient_id: SealedId | None = None
    refusals: tuple[RefusalRow, ...] = ()
    settled_at: datetime.datetime | None = None
    clearing: ClearingRow | None = None


class LegRow(msgspec.Struct, frozen=True, kw_only=True):
    source: LegSource
    payer_id: SealedId | None  # None: mutual aid whose owner the centre did not name
    amount: int
    relation: Relation | None = None
    named_by: OwnerNamedBy = "centre"


class ReceiptRow(msgspec.Struct, frozen=True, kw_only=True):
    settlement_id: str
    key: str
    total: int
    fund: int
    legs: tuple[LegRow, ...]
    cash: int
    refusals: tuple[RefusalRow, ...] = ()
    agent_id: SealedId | None = None
    divergence: tuple[str, ...] = ()
    purpose: Purpose = Purpose.MEDICAL
    cash_channel: str = ""
    transaction_id: str = ""
    warnings: tuple[RefusalRow, ...] = ()  # a warning is stored in a refusal's shape
    cash_part: int = 0  # cash-only goods (a row written before it existed has none)
    disease: DiseaseRow | None = None  # the chronic disease settled under (med_type 14)


class DiseaseRow(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str = ""
    begins: datetime.date | None = None
    ends: datetime.date | None = None


class UploadRow(msgspec.Struct, frozen=True, kw_only=True):
    infno: str
    msgid: str
    payload: str  # the adapter's input as JSON text: item codes and packs, no ID number
    insured_in: str = ""
    done: bool = False


class EntryRow(msgspec.Struct, frozen=True, kw_only=True):
    """One journal entry as stored: readable without the key, ID numbers masked."""

    v: int
    key: str
    fingerprint: str
    state: EntryState
    attempt: int
    setting: Setting
    purpose: Purpose
    psn_no: str
    msgid: str
    cash_kind: CashKind
    out_trade_no: str = ""
    settlement: SettlementRow | None = None
    receipt: ReceiptRow | None = None
    undo: UndoKind | None = None
    undo_msgid: str = ""
    out_refund_no: str = ""
    reason: str = ""
    updated_at: datetime.datetime | None = None
    voucher: str = ""
    uploads: tuple[UploadRow, ...] = ()  # a row written before they existed has none
    insured_in: str = ""  # a row written before it existed: the gateway's own region

    @property
    def settlement_id(self) -> str | None:
        return self.receipt.settlement_id if self.receipt is not None else None


class Columns(msgspec.Struct, frozen=True, kw_only=True):
    """What a durable journal indexes and filters on; none of it is personal."""

    key: str
    state: str
    attempt: int
    settlement_id: str | None
    psn_no: str
    day: datetime.date | None  # the centre's settlement day, else the day of the last write
    updated_at: datetime.datetime | None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(EntryRow)


class _Version(msgspec.Struct):
    v: int


_version = msgspec.json.Decoder(_Version)


# ---------------------------------------------------------------- Entry -> row


def row_of(entry: Entry, key: Sealer) -> EntryRow:
    def seal(number: IdNumber) -> SealedId:
        return SealedId(masked=number.masked, sealed=key.seal(number.number, entry.key))

    def seal_optional(number: IdNumber | None) -> SealedId | None:
        return None if number is None else seal(number)

    def refusal(found: Refusal | RuleWarning) -> RefusalRow:
        return RefusalRow(
            rule=found.rule,
            reason=found.reason,
            reason_zh=found.reason_zh,
            owner_id=seal_optional(found.owner_id),
        )

    settlement = entry.settlement
    receipt = entry.receipt
    return EntryRow(
        v=ROW_VERSION,
        key=entry.key,
        fingerprint=entry.fingerprint,
        state=entry.state,
        attempt=entry.attempt,
        setting=entry.setting,
        purpose=entry.purpose,
        psn_no=entry.psn_no,
        msgid=entry.msgid,
        cash_kind=entry.cash_kind,
        out_trade_no=entry.out_trade_no,
        settlement=None
        if settlement is None
        else SettlementRow(
            setl_id=settlement.setl_id,
            mdtrt_id=settlement.mdtrt_id,
            msgid=settlement.msgid,
            total=int(settlement.total),
            fund=int(settlement.fund),
            own_account=int(settlement.own_account),
            mutual_aid=tuple(
                ShareRow(
                    owner_id=seal_optional(s.owner_id), amount=int(s.amount), relation=s.relation
                )
                for s in settlement.mutual_aid
            ),
            cash=int(settlement.cash),
            balance=int(settlement.balance),
            patient_id=seal_optional(settlement.patient_id),
            refusals=tuple(refusal(r) for r in settlement.refusals),
            settled_at=settlement.settled_at,
            clearing=_clearing_row(settlement.clearing),
        ),
        receipt=None
        if receipt is None
        else ReceiptRow(
            settlement_id=receipt.settlement_id,
            key=receipt.key,
            total=int(receipt.total),
            fund=int(receipt.fund),
            legs=tuple(
                LegRow(
                    source=leg.source,
                    payer_id=seal_optional(leg.payer_id),
                    amount=int(leg.amount),
                    relation=leg.relation,
                    named_by=leg.named_by,
                )
                for leg in receipt.legs
            ),
            cash=int(receipt.cash),
            refusals=tuple(refusal(r) for r in receipt.refusals),
            agent_id=seal_optional(receipt.agent_id),
            divergence=receipt.divergence,
            purpose=receipt.purpose,
            cash_channel=receipt.cash_channel,
            transaction_id=receipt.transaction_id,
            warnings=tuple(refusal(w) for w in receipt.warnings),
            cash_part=int(receipt.cash_part),
            disease=_disease_row(receipt.disease),
        ),
        undo=entry.undo,
        undo_msgid=entry.undo_msgid,
        out_refund_no=entry.out_refund_no,
        reason=entry.reason,
        updated_at=entry.updated_at,
        voucher=entry.voucher,
        insured_in=entry.insured_in,
        uploads=tuple(
            UploadRow(
                infno=u.infno,
                msgid=u.msgid,
                payload=u.payload,
                insured_in=u.insured_in,
                done=u.done,
            )
            for u in entry.uploads
        ),
    )


def _clearing_row(clearing: Clearing | None) -> ClearingRow | None:
    if clearing is None:
        return None
    return ClearingRow(
        insutype=clearing.insutype, clr_type=clearing.clr_type, setl_optins=clearing.setl_optins
    )


def _clearing(row: ClearingRow | None) -> Clearing | None:
    if row is None:
        return None
    return Clearing(insutype=row.insutype, clr_type=row.clr_type, setl_optins=row.setl_optins)


def columns(row: EntryRow) -> Columns:
    settled_at = row.settlement.settled_at if row.settlement is not None else None
    when = settled_at or row.updated_at
    return Columns(
        key=row.key,
        state=row.state.value,
        attempt=row.attempt,
        settlement_id=row.settlement_id,
        psn_no=row.psn_no,
        day=beijing.day(when) if when is not None else None,
        updated_at=row.updated_at,
    )


def encode_row(row: EntryRow) -> bytes:
    return _encoder.encode(row)


# ---------------------------------------------------------------- row -> Entry


_AT_FIELD = re.compile(r"at `\$[^`]{0,120}`")


def decode_row(document: bytes | str, where: str) -> EntryRow:
    """The stored document, checked for its version; ``where`` names the journal in errors."""
    try:
        version = _version.decode(document).v
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # msgspec's other two
        version = None
    if version != ROW_VERSION:
        raise ConfigError(
            f"A row of {where} has format version {version}; this gongji reads version {ROW_VERSION}.",
            next_step="Use the gongji version that wrote the journal.",
        )
    try:
        return _decoder.decode(document)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as error:
        # Where it broke, not what was there: msgspec quotes a bad enum value, which a
        # damaged row may have in place of anything (an ID number).
        found = _AT_FIELD.search(str(error))
        raise ConfigError(
            f"A row of {where} is damaged ({found.group(0) if found else 'not a journal row'}).",
            next_step="Restore the journal from a backup; do not edit journal rows by hand.",
        ) from None


def entry_of(row: EntryRow, key: JournalKey) -> Entry:
    """The entry a row stores, with its ID numbers opened with ``key``."""

    def open_id(sealed: SealedId) -> IdNumber:
        return IdNumber(key.open(sealed.sealed, row.key))

    def open_optional(sealed: SealedId | None) -> IdNumber | None:
        return None if sealed is None else open_id(sealed)

    def refusal(found: RefusalRow) -> Refusal:
        return Refusal(
            rule=found.rule,
            reason=found.reason,
            reason_zh=found.reason_zh,
            owner_id=open_optional(found.owner_id),
        )

    settlement = row.settlement
    receipt = row.receipt
    return Entry(
        key=row.key,
        fingerprint=row.fingerprint,
        state=row.state,
        attempt=row.attempt,
        setting=row.setting,
        purpose=row.purpose,
        psn_no=row.psn_no,
        msgid=row.msgid,
        cash_kind=row.cash_kind,
        out_trade_no=row.out_trade_no,
        settlement=None
        if settlement is None
        else CentreSettlement(
            setl_id=settlement.setl_id,
            mdtrt_id=settlement.mdtrt_id,
            msgid=settlement.msgid,
            total=Fen(settlement.total),
            fund=Fen(settlement.fund),
            own_account=Fen(settlement.own_account),
            mutual_aid=tuple(
                MutualAidShare(
                    owner_id=open_optional(s.owner_id), amount=Fen(s.amount), relation=s.relation
                )
                for s in settlement.mutual_aid
            ),
            cash=Fen(settlement.cash),
            balance=Fen(settlement.balance),
            patient_id=open_optional(settlement.patient_id),
            refusals=tuple(refusal(r) for r in settlement.refusals),
            settled_at=settlement.settled_at,
            clearing=_clearing(settlement.clearing),
        ),
        receipt=None
        if receipt is None
        else Receipt(
            settlement_id=receipt.settlement_id,
            key=receipt.key,
            total=Fen(receipt.total),
            fund=Fen(receipt.fund),
            legs=tuple(
                Leg(
                    source=leg.source,
                    payer_id=open_optional(leg.payer_id),
                    amount=Fen(leg.amount),
                    relation=leg.relation,
                    named_by=leg.named_by,
                )
                for leg in receipt.legs
            ),
            cash=Fen(receipt.cash),
            refusals=tuple(refusal(r) for r in receipt.refusals),
            agent_id=open_optional(receipt.agent_id),
            divergence=receipt.divergence,
            purpose=receipt.purpose,
            cash_channel=receipt.cash_channel,
            transaction_id=receipt.transaction_id,
            warnings=tuple(
                RuleWarning(
                    rule=w.rule,
                    reason=w.reason,
                    reason_zh=w.reason_zh,
                    owner_id=open_optional(w.owner_id),
                )
                for w in receipt.warnings
            ),
            cash_part=Fen(receipt.cash_part),
            disease=_disease(receipt.disease),
        ),
        undo=row.undo,
        undo_msgid=row.undo_msgid,
        out_refund_no=row.out_refund_no,
        reason=row.reason,
        updated_at=row.updated_at,
        voucher=row.voucher,
        insured_in=row.insured_in,
        uploads=tuple(
            Upload(
                infno=u.infno,
                msgid=u.msgid,
                payload=u.payload,
                insured_in=u.insured_in,
                done=u.done,
            )
            for u in row.uploads
        ),
    )


def masked(row: EntryRow) -> dict[str, Any]:
    """The row for display (``gongji journal show``, JSON): each ID number is its masked form,
    no sealed value is included; amounts stay integer fen."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"masked", "sealed"}:
                return value["masked"]
            return {name: strip(item) for name, item in value.items()}
        if isinstance(value, list | tuple):
            return [strip(item) for item in value]
        return value

    result: dict[str, Any] = strip(msgspec.to_builtins(row))
    return result


def _disease_row(disease: ChronicDisease | None) -> DiseaseRow | None:
    if disease is None:
        return None
    return DiseaseRow(
        code=disease.code, name=disease.name, begins=disease.begins, ends=disease.ends
    )


def _disease(row: DiseaseRow | None) -> ChronicDisease | None:
    if row is None:
        return None
    return ChronicDisease(code=row.code, name=row.name, begins=row.begins, ends=row.ends)
