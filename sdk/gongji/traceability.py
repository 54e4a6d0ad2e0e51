"""Drug traceability codes (追溯码) at the till: required ones are checked before anything is sent.

From the pack's ``traceability.required_from`` (nationally 2025-07-01, "无码不结算"), a
pharmacy sale settles a drug with the fund only once the code of each pack sold was
scanned. A drug line of ``quantity`` packs carries ``quantity`` codes (``LineItem.packs``);
a code is one pack's, so one sale never carries it twice. A split-pack line (拆零, part of
a pack) carries the code of each pack its part is taken from: at least one a pack begun
(``ceil(quantity)``), and one more where the part starts in a pack opened for an earlier
sale. A line that falls short is refused with a sentence the cashier can act on, before
the centre is asked anything.
"""

from __future__ import annotations

import datetime
import decimal
import math

from gongji.errors import InvalidInput
from gongji.model import Category, LineItem, Setting
from gongji.policy import PolicyPack

__all__ = ["check_codes"]


def check_codes(
    items: tuple[LineItem, ...], setting: Setting, policy: PolicyPack, day: datetime.date
) -> None:
    """Refuse a sale whose drug lines lack the codes the pack requires on ``day``."""
    rule = policy.traceability
    seen: set[str] = set()
    for item in items:
        codes = item.packs.codes if item.packs is not None else ()
        for code in codes:
            if code in seen:
                raise InvalidInput(
                    f"The traceability code ending {code[-4:]} was scanned on two lines of this "
                    "sale; a code belongs to one pack.",
                    next_step="Scan each pack once; nothing was sent. / 每盒药的追溯码只扫一次。",
                )
            seen.add(code)
        required = (
            rule is not None
            and rule.required_on(day)
            and setting is Setting.PHARMACY
            and item.category is Category.DRUG
        )
        if not required:
            continue
        if item.split_pack:
            _check_split(item, codes)
        elif len(codes) != item.quantity:
            raise InvalidInput(
                f"Scan the traceability code (追溯码) of each pack of {item.name or item.code}: "
                f"{len(codes)} of {item.quantity} scanned.",
                next_step="Scan the code on every pack sold (one code a pack), then settle "
                f"again; nothing was sent. / 请扫描每盒「{item.name or item.code}」的药品追溯码"
                f"（已扫 {len(codes)}/{item.quantity}），无码不能医保结算。",
            )


def _split_pack_codes(quantity: int | decimal.Decimal) -> range:
    """How many codes a split-pack line of ``quantity`` packs may carry: one for each pack
    its part is taken from, which is ``ceil(quantity)`` packs, or one more when the part
    begins in a pack an earlier sale opened."""
    packs = math.ceil(quantity)
    return range(packs, packs + 2)


def _check_split(item: LineItem, codes: tuple[str, ...]) -> None:
    allowed = _split_pack_codes(item.quantity)
    if len(codes) not in allowed:
        name = item.name or item.code
        raise InvalidInput(
            f"Part of a pack of {name} is sold (拆零, {item.quantity}): scan the code of each "
            f"pack it is taken from, {allowed[0]} or {allowed[-1]} codes; {len(codes)} scanned.",
            next_step="Scan the code on each pack the part comes from (the opened pack too), "
            f"then settle again; nothing was sent. / 拆零销售「{name}」：请扫描所拆每盒的药品"
            f"追溯码（应扫 {allowed[0]}-{allowed[-1]} 个，已扫 {len(codes)} 个）。",
        )
