"""Chronic and special diseases (门诊慢特病): which registered disease a sale is settled under.

The centre keeps each patient's registrations (5301: the disease's code and name, its
first and last day). A sale settled as ``med_type`` 14 names one of them, in force on the
day of the sale (the Beijing calendar day). Anything else is refused here, before
anything is charged, with sentences a cashier can read aloud (English and Chinese) that
say which diseases the patient is registered for.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from gongji.errors import DiseaseNotRegistered
from gongji.model import ChronicDisease

__all__ = ["choose", "not_in_force", "not_registered"]


def choose(registered: Sequence[ChronicDisease], code: str, day: datetime.date) -> ChronicDisease:
    """The registration of ``code`` in force on ``day``; ``DiseaseNotRegistered`` otherwise."""
    found = [disease for disease in registered if disease.code == code]
    if not found:
        raise not_registered(code, registered)
    for disease in found:
        if disease.covers(day):
            return disease
    raise not_in_force(found[0], day)


def not_registered(code: str, registered: Sequence[ChronicDisease]) -> DiseaseNotRegistered:
    """The patient has no registration of ``code``: the sentence names the ones there are."""
    if not registered:
        return DiseaseNotRegistered(
            f"The patient has no chronic or special disease registered at the insurance "
            f"centre, so the sale cannot be settled under {code}.",
            reason_zh=f"患者在医保中心没有登记门诊慢特病，不能按病种 {code} 结算。",
            next_step="Settle it as an ordinary sale (without chronic_disease); the patient "
            "registers the disease with the insurance centre first. Nothing was charged.",
        )
    names = ", ".join(disease.label for disease in registered)
    names_zh = "、".join(disease.label for disease in registered)
    return DiseaseNotRegistered(
        f"The patient is not registered for the chronic or special disease {code}; "
        f"the registered ones are {names}.",
        reason_zh=f"患者未登记门诊慢特病 {code}，已登记的病种为 {names_zh}。",
    )


def not_in_force(disease: ChronicDisease, day: datetime.date) -> DiseaseNotRegistered:
    """The registration of ``disease`` does not cover ``day``."""
    return DiseaseNotRegistered(
        f"The patient's registration for the chronic or special disease {disease.label} "
        f"{_dates(disease)}, so it does not cover today ({day.isoformat()}).",
        reason_zh=f"患者门诊慢特病 {disease.label} 的登记{_dates_zh(disease)}，"
        f"今天({day.isoformat()})不在有效期内。",
        next_step="Settle it as an ordinary sale (without chronic_disease), or ask the patient "
        "to renew the registration at the insurance centre; nothing was charged.",
    )


def _dates(disease: ChronicDisease) -> str:
    begins, ends = disease.begins, disease.ends
    if begins is not None and ends is not None:
        return f"runs from {begins.isoformat()} to {ends.isoformat()}"
    if ends is not None:
        return f"ended on {ends.isoformat()}"
    assert begins is not None  # a registration without dates covers every day
    return f"begins on {begins.isoformat()}"


def _dates_zh(disease: ChronicDisease) -> str:
    begins, ends = disease.begins, disease.ends
    if begins is not None and ends is not None:
        return f"有效期为 {begins.isoformat()} 至 {ends.isoformat()}"
    if ends is not None:
        return f"已于 {ends.isoformat()} 到期"
    assert begins is not None
    return f"自 {begins.isoformat()} 起生效"
