"""An outpatient clinic's billing, asynchronously, against the in-process mock gateway.

A clinic settles a *visit*: the patient is registered with a department and a doctor
(2201), the doctor's diagnosis is uploaded (2203), the fee lines are uploaded as the
doctor prescribes (2204), and the settlement (2206 preview, 2207 settle) settles the
lines the centre holds for that visit. Two
patients are seen concurrently here (``asyncio.gather``); one visit is refunded.

The mother (resident insurance, no personal account of her own) presents her ID card;
her son's and daughter's accounts pay her self-paid share through family mutual aid,
and the rest is paid with a WeChat Pay payment code.
The son (employee insurance) shows his e-voucher QR code and pays from his own account.
No network, no real money: the real wire protocols and signatures, in this process.
"""

from __future__ import annotations

import asyncio

import gongji
from gongji_mock import MockGateway

MOTHER = "210202195809120046"
SON = "210202198503170036"
WECHAT_CODE = "134567890123456781"  # a payment code the mock pays at once

CONSULTATION = gongji.LineItem(
    code="110200001", name="普通门诊诊查费", unit_price=gongji.Fen(1_000), quantity=1
)


async def see_patient(
    client: gongji.AsyncSettlementClient,
    credential: gongji.Credential,
    prescription: list[gongji.LineItem],
    *,
    department: str,
    doctor: str,
    diagnosis: gongji.Diagnosis,
) -> gongji.Receipt:
    """One visit from the registration desk to the cashier."""
    visit = await client.register_visit(
        credential,
        department=department,
        department_code="0302",
        department_category="A03",  # the national category (科别): internal medicine
        doctor=doctor,
        doctor_code="D210200000001",
        outpatient_no=f"OP-{department}",
    )
    print(f"registered visit {visit.visit_id} in {visit.department} with {visit.doctor}")
    visit = await client.diagnose(visit, [diagnosis])  # before any fee line
    visit = await client.upload_fees(visit, [CONSULTATION])  # at the registration desk
    visit = await client.upload_fees(visit, prescription)  # after the doctor prescribes
    print(f"  {len(visit.items)} fee lines uploaded, {visit.total} in all")

    purchase = gongji.Purchase.for_visit(visit, credential)
    quote = await client.preview(purchase)  # nothing is charged
    for sentence in quote.explain("zh"):
        print(f"  {sentence}")
    receipt = await client.settle(
        purchase, key=f"CLINIC01-{visit.visit_id}", cash=gongji.Cash.wechat(WECHAT_CODE)
    )
    accounts = sum((leg.amount for leg in receipt.legs), gongji.Fen(0))
    print(
        f"  settled {receipt.settlement_id}: total {receipt.total} = fund {receipt.fund}"
        f" + accounts {accounts} + cash {receipt.cash} ({receipt.cash_channel or 'none'})"
    )
    return receipt


async def main() -> None:
    mock = MockGateway.demo()
    async with gongji.AsyncSettlementClient.from_profile("mock", mock=mock) as client:
        mother, son = await asyncio.gather(
            see_patient(
                client,
                gongji.Credential.id_card(MOTHER),
                [
                    gongji.LineItem(
                        code="XC10",
                        name="降压药",
                        unit_price=gongji.Fen(25_000),
                        quantity=2,
                        coverage="C",
                    )
                ],
                department="心内科",
                doctor="王医生",
                diagnosis=gongji.Diagnosis(code="I10.x00", name="高血压"),
            ),
            see_patient(
                client,
                gongji.Credential.e_voucher(mock.issue_e_voucher(SON)),
                [
                    gongji.LineItem(
                        code="XB20",
                        name="止咳糖浆",
                        unit_price=gongji.Fen(3_550),
                        quantity=1,
                        coverage="B",
                    )
                ],
                department="呼吸科",
                doctor="李医生",
                diagnosis=gongji.Diagnosis(code="J20.900", name="急性支气管炎"),
            ),
        )
        print(f"the son's account holds {mock.balance(SON)} after both visits")

        # The son's visit was settled by mistake (a free follow-up): give it all back.
        refunded = await client.refund(son.settlement_id)
        print(f"refunded {refunded.settlement_id}: the son's account holds {mock.balance(SON)}")

        # An outpatient sale without a registered visit never reaches the centre.
        try:
            await client.preview(
                gongji.Purchase(
                    credential=gongji.Credential.id_card(MOTHER),
                    items=[CONSULTATION],
                    setting="outpatient",
                )
            )
        except gongji.InvalidInput as refused:
            print(f"refused: {refused}")

        problems = mock.check()
        print(f"mother's visit {mother.settlement_id} stands; ledger sound: {problems == []}")
        if problems:
            raise SystemExit(f"the mock's ledger is not sound: {problems}")


if __name__ == "__main__":
    asyncio.run(main())
