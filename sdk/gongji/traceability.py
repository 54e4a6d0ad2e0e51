"""Drug traceability codes (追溯码) at the till: required ones are checked before anything is sent.

From the pack's ``traceability.required_from`` (nationally 2025-07-01, "无码不结算"), a
pharmacy sale settles a drug with the fund only once the code of each pack sold was
scanned. A drug line of ``quantity`` packs carries ``quantity`` codes (``LineItem.packs``);
a code is one pack's, so one sale never carries it twice. A line that falls short is
refused with a sentence the cashier can act on, before the centre is asked anything.
"""

from __future__ import annotations

import datetime

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
        if required and len(codes) != item.quantity:
            raise InvalidInput(
                f"Scan the traceability code (追溯码) of each pack of {item.name or item.code}: "
                f"{len(codes)} of {item.quantity} scanned.",
                next_step="Scan the code on every pack sold (one code a pack), then settle "
                f"again; nothing was sent. / 请扫描每盒「{item.name or item.code}」的药品追溯码"
                f"（已扫 {len(codes)}/{item.quantity}），无码不能医保结算。",
            )
