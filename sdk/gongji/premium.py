"""A premium paid on behalf of a relative (代缴): its own operation, not a pharmacy sale.

Seed 000 (l.51-52): an employee's personal account may pay a bound relative's
resident-insurance premium (居民医保缴费), or a flexibly employed relative's
employee-insurance premium (灵活就业人员职工医保缴费). Seed 002 (l.22) has the premium
collected by the insurer or the tax channel, automatically once the family binding is
made. The national interface of designated institutions has no premium payment
(NATIONAL.md §15): a premium is never a 2102 sale line. ``client.pay_premium`` sends
it to the premium channel a region configures (``Capability.PREMIUM``), and returns a
``PremiumReceipt``.

The payer shows his own credential: it is his account that pays, so the payment is
his to authorise. The relative is named by ID number and need not be there.
"""

from __future__ import annotations

import datetime

from attrs import field, frozen

from gongji.errors import InvalidInput
from gongji.identity import Credential, IdNumber, id_number, optional_id_number
from gongji.model import MAX_PURCHASE_TOTAL, Purpose, Relation, RuleWarning, parse_enum
from gongji.money import ZERO, Fen

__all__ = ["PREMIUM_KINDS", "PremiumPayment", "PremiumReceipt", "is_premium"]

#: The premiums an account may pay on behalf of a relative (seed 000 l.51-52).
PREMIUM_KINDS = frozenset({Purpose.RESIDENT_PREMIUM, Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM})


def is_premium(purpose: Purpose) -> bool:
    """Whether ``purpose`` is a premium, paid with ``pay_premium`` and never as a sale."""
    return purpose in PREMIUM_KINDS


def _to_premium_kind(value: str | Purpose) -> Purpose:
    kind = parse_enum(Purpose, value, "premium kind")
    if kind not in PREMIUM_KINDS:
        raise InvalidInput(
            f"{kind.value!r} is not a premium.",
            next_step="Use kind='resident_premium' or kind='flexible_employment_premium'; "
            "a purchase is settled with client.settle(...).",
        )
    return kind


def _fen(value: Fen | int) -> Fen:
    return Fen(value)


@frozen
class PremiumPayment:
    """What the till asks: pay ``insured_id``'s premium from the payer's personal account.

    ``credential`` is the payer's own (the account owner's e-voucher, ID card or social
    card); ``payer_id``, when the till knows it, is checked against whom the credential
    resolves to (R1). ``amount`` is the premium the collector asks for, in fen.
    """

    credential: Credential = field()
    insured_id: IdNumber = field(converter=id_number)
    amount: Fen = field(converter=_fen)
    kind: Purpose = field(default=Purpose.RESIDENT_PREMIUM, converter=_to_premium_kind)
    payer_id: IdNumber | None = field(default=None, converter=optional_id_number)

    @credential.validator
    def _check_credential(self, _attribute: object, value: Credential) -> None:
        if not isinstance(value, Credential):
            raise InvalidInput(
                "A premium payment needs the payer's own credential.",
                next_step="Use gongji.Credential.e_voucher(token), .id_card(number) or "
                ".social_card(number, card_sn=...) of the account owner who pays.",
            )

    @amount.validator
    def _check_amount(self, _attribute: object, value: Fen) -> None:
        if not 0 < value <= MAX_PURCHASE_TOTAL:
            raise InvalidInput(
                f"A premium of {value.to_yuan()} yuan cannot be paid.",
                next_step="Enter the premium the collector asks for, in fen "
                "(Fen(38000) is 380.00 yuan); nothing was sent.",
            )

    def __attrs_post_init__(self) -> None:
        if self.payer_id is not None and self.payer_id == self.insured_id:
            raise InvalidInput(
                "A premium on behalf is paid for a relative, and payer and insured are the same person.",
                next_step="Name the relative whose premium it is in insured_id; "
                "one's own premium is paid to the collector directly.",
            )


@frozen
class PremiumReceipt:
    """A premium paid: the collector's payment id and what the payer's account paid.

    The whole premium is paid from one account, or nothing is: a premium is never
    split with cash at the till.
    """

    payment_id: str
    key: str
    kind: Purpose
    amount: Fen
    payer_id: IdNumber  # the account owner who paid; masked in every repr
    insured_id: IdNumber  # whose premium it is
    relation: Relation | None = None  # the insured's relation to the payer
    balance: Fen = ZERO  # the payer's account after it, as the collector reports it
    paid_at: datetime.datetime | None = None  # Beijing time
    warnings: tuple[RuleWarning, ...] = ()  # the rules' warnings, kept for the record
