"""R1, the own-card rule: the credential presented must be the patient's own.

Seeds 001 and 002: "实际就医时，必须使用患者本人的医保卡" - mutual aid shares the
money in an account, never the card or the insurance identity. A relative may
*present* the patient's own credential (family account, proxy purchase), and the
agent is recorded; a relative's credential for the patient is impersonation.
"""

from __future__ import annotations

from collections.abc import Sequence

from gongji.hookspecs import hookimpl
from gongji.model import Refusal
from gongji.rules import refuse
from gongji.rules.context import CheckContext


class OwnCardRule:
    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        holder = context.holder.id
        purchase = context.purchase
        presented = purchase.credential.id_number
        if presented is not None and presented != holder:
            # The gateway resolved a card to someone other than the number printed on it.
            return [
                refuse(
                    "R1",
                    f"the card names {presented.masked} but the insurance centre resolved it to {holder.masked}; it cannot be used.",
                    f"证件号 {presented.masked} 与医保中心识别的参保人 {holder.masked} 不一致，不能使用。",
                    None,
                )
            ]
        patient = purchase.patient_id
        if patient is not None and patient != holder:
            return [
                refuse(
                    "R1",
                    f"the credential presented belongs to {holder.masked}, not to the patient {patient.masked}. "
                    "Settling with another person's credential is impersonation (冒名就医).",
                    f"所出示的凭证属于 {holder.masked}，不是患者 {patient.masked} 本人的。使用他人医保凭证结算属于冒名就医。"
                    "请出示患者本人的医保电子凭证或医保卡；家人的个人账户可通过家庭共济支付。",
                    None,
                )
            ]
        return None


PLUGINS = {"gongji.rules.R1": OwnCardRule()}
