"""Chronic and special diseases (门诊慢特病) through both drivers: the patient's
registrations are read (5301) only for a sale that asks to be settled under one; the sale
then goes to the centre as med_type 14 with the disease's code, at the pharmacy and at the
clinic; a disease the patient is not registered for, or not today (Beijing), is refused
before anything is charged, with the cashier's sentence."""

from __future__ import annotations

import datetime
import json
from typing import Any

import attrs
import pytest

from gongji import (
    Cash,
    ChronicDisease,
    ConfigError,
    Credential,
    Declined,
    Diagnosis,
    DiseaseNotRegistered,
    InvalidInput,
    Purchase,
    SettlementClient,
)
from gongji.client import drive
from gongji.gateways import Capability, SettlementRequest
from gongji_mock import MockGateway
from tests.client.conftest import CLINIC, FATHER, MOTHER, SON, Till, drug, purchase

HYPERTENSION = ChronicDisease("M03900", "高血压", datetime.date(2023, 3, 1))
TABLETS = drug(3_000)


def infnos(mock: MockGateway) -> list[str]:
    """The transaction codes the mock centre was sent, in no particular order."""
    return [seen.infno for seen in mock.national.records.seen.values()]


def med_types(mock: MockGateway, *codes: str) -> list[str]:
    """The ``med_type`` the centre's answers to ``codes`` settled under (its ``setlinfo``)."""
    return [
        json.loads(seen.body)["output"]["setlinfo"]["med_type"]
        for seen in mock.national.records.seen.values()
        if seen.infno in codes
    ]


def sales_at_the_centre(mock: MockGateway) -> int:
    return sum(1 for t in mock.centre.ledger.transactions if t.kind == "settle")


def test_the_cashier_can_list_the_patients_registered_diseases(
    till: Till, mock: MockGateway
) -> None:
    found = till.chronic_diseases(Credential.id_card(FATHER))
    assert [d.code for d in found] == ["M03900", "M01600"]
    assert found[0] == HYPERTENSION
    assert found[1].ends == datetime.date(2025, 6, 30)
    assert till.chronic_diseases(Credential.id_card(SON)) == ()
    assert sales_at_the_centre(mock) == 0


def test_a_sale_under_a_registered_disease_is_settled_as_med_type_14_and_shows_it(
    till: Till, mock: MockGateway
) -> None:
    sale = purchase(FATHER, TABLETS, chronic_disease="M03900", use_mutual_aid=False)
    quote = till.preview(sale)
    receipt = till.settle(sale, key="CHRONIC-0001", cash=Cash.counter())
    assert quote.disease == receipt.disease == HYPERTENSION
    assert "The sale is settled under the chronic or special disease M03900 高血压." in (
        quote.explain()
    )
    assert "按门诊慢特病 M03900 高血压 结算。" in quote.explain("zh")
    assert med_types(mock, "2102") == ["14"]  # as the centre settled it
    assert set(med_types(mock, "2101")) == {"14"}
    # A retry with the same key returns the receipt as journaled, its disease with it.
    again = till.settle(sale, key="CHRONIC-0001", cash=Cash.counter())
    assert again == receipt
    assert mock.check() == []


def test_an_ordinary_sale_asks_nothing_about_chronic_diseases(
    till: Till, mock: MockGateway
) -> None:
    receipt = till.settle(purchase(FATHER, TABLETS), key="ORDINARY-0001")
    assert receipt.disease is None
    assert "5301" not in infnos(mock)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (
            "M99999",
            "not registered for the chronic or special disease M99999; the registered "
            "ones are M03900 高血压, M01600 糖尿病.",
        ),
        ("M01600", "runs from 2020-01-01 to 2025-06-30, so it does not cover today"),
    ],
)
def test_a_disease_the_patient_is_not_registered_for_today_is_refused_before_anything_is_charged(
    till: Till, mock: MockGateway, code: str, words: str
) -> None:
    before = mock.balance(FATHER)
    sale = purchase(FATHER, TABLETS, chronic_disease=code)
    with pytest.raises(DiseaseNotRegistered, match=words) as refused:
        till.settle(sale, key="CHRONIC-0002")
    assert refused.value.reason_zh and "nothing was charged" in str(refused.value)
    assert not {"2101", "2102"} & set(infnos(mock))  # nothing was asked to be settled
    assert mock.balance(FATHER) == before
    assert till.client.journal.get("CHRONIC-0002") is None


def test_a_visit_is_settled_under_a_registered_disease_at_the_clinic(
    till: Till, mock: MockGateway
) -> None:
    visit = till.register_visit(
        Credential.id_card(MOTHER),
        **CLINIC,
    )
    visit = till.diagnose(visit, [Diagnosis(code="I10.x00", name="高血压")])
    visit = till.upload_fees(visit, [TABLETS])
    settlement = Purchase.for_visit(visit, Credential.id_card(MOTHER), chronic_disease="M03900")
    receipt = till.settle(settlement, key="CLINIC-CHRONIC-1")
    assert receipt.disease is not None and receipt.disease.code == "M03900"
    assert med_types(mock, "2207") == ["14"]
    assert "5301" in infnos(mock)


def test_the_centre_refuses_a_med_type_14_settlement_whose_disease_is_not_registered() -> None:
    # A till that skipped its own check (or a stale registration): the centre is the authority.
    mock = MockGateway.demo()
    with SettlementClient.from_profile("mock", mock=mock) as client:
        holder = drive(client.setup.gateway.person(Credential.id_card(SON)), client._http)
        request = SettlementRequest(
            psn_no=holder.psn_no,
            patient=holder.person,
            credential=Credential.id_card(SON),
            items=(TABLETS,),
            disease=HYPERTENSION,  # registered for his parents, not for him
        )
        with pytest.raises(Declined, match="门诊慢特病"):
            drive(client.setup.gateway.pre_settle(request), client._http)


def test_an_adapter_without_chronic_diseases_refuses_the_sale_before_anything_is_sent() -> None:
    mock = MockGateway.demo()
    with SettlementClient.from_profile("mock", mock=mock) as client:
        gateway: Any = client.setup.gateway
        gateway.capabilities = gateway.capabilities - {Capability.CHRONIC_DISEASES}
        sale = purchase(FATHER, TABLETS, chronic_disease="M03900")
        with pytest.raises(ConfigError, match="chronic_diseases"):
            client.preview(sale)
        with pytest.raises(ConfigError, match="chronic_diseases"):
            client.chronic_diseases(Credential.id_card(FATHER))
        # An ordinary sale still settles with it.
        assert client.settle(attrs.evolve(sale, chronic_disease=""), key="PLAIN-1").disease is None
    assert infnos(mock).count("1101") == 1  # only the ordinary sale's


@pytest.mark.parametrize(
    ("utc", "refused_here"),
    [
        # 2025-06-30 23:30 in Beijing: the registration's last day; the till lets it go, and
        # the centre (whose day is today) refuses it.
        (datetime.datetime(2025, 6, 30, 15, 30, tzinfo=datetime.UTC), False),
        # 2025-07-01 00:30 in Beijing, still 30 June in UTC: the registration has ended.
        (datetime.datetime(2025, 6, 30, 16, 30, tzinfo=datetime.UTC), True),
    ],
)
def test_a_registrations_dates_are_read_on_the_beijing_calendar(
    utc: datetime.datetime, refused_here: bool
) -> None:
    mock = MockGateway.demo()
    with SettlementClient.from_profile("mock", mock=mock, clock=lambda: utc) as client:
        sale = purchase(FATHER, TABLETS, chronic_disease="M01600")
        expected = DiseaseNotRegistered if refused_here else Declined
        with pytest.raises(expected, match="M01600" if refused_here else "门诊慢特病"):
            client.preview(sale)
    assert ("2101" in infnos(mock)) is not refused_here


def test_a_key_used_for_an_ordinary_sale_cannot_settle_it_under_a_disease(till: Till) -> None:
    till.settle(purchase(FATHER, TABLETS), key="SAME-KEY")
    with pytest.raises(InvalidInput, match="different purchase"):
        till.settle(purchase(FATHER, TABLETS, chronic_disease="M03900"), key="SAME-KEY")
