"""A premium paid on behalf (issue 17, item 8): its own operation with its own capability,
never a 2102 sale. Each test runs through both drivers and both journals, against the
mock's premium channel and ledger."""

from __future__ import annotations

import datetime

import httpx
import pytest

from gongji import (
    ConfigError,
    Credential,
    Declined,
    Fen,
    InvalidInput,
    KinshipViolation,
    LimitExceeded,
    OwnCardViolation,
    PremiumPayment,
    Purchase,
    SettlementClient,
    Unavailable,
    UseViolation,
)
from gongji import clock as beijing
from gongji.gateways import Capability
from gongji.journal import EntryState, MemoryJournal
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from gongji_mock import MockGateway
from tests.client.conftest import (
    DAUGHTER,
    FATHER,
    MOTHER,
    SON,
    WIFE,
    Till,
    balances,
    drug,
)

PAY = "/gongji-mock/premium/pay"


@pytest.fixture
def mock() -> MockGateway:
    # The premium's local rules read the relative's bindings, which reach a till only
    # through gongji's extensions (X101); without them the premium channel decides alone.
    return MockGateway.demo(extensions=True)


def mothers_premium(**changes: object) -> PremiumPayment:
    """Seed 000: Zhang Wei's account pays his mother's 380-yuan resident premium."""
    fields: dict[str, object] = {
        "credential": Credential.id_card(SON),
        "insured_id": MOTHER,
        "kind": "resident_premium",
        "amount": Fen(38_000),
    }
    return PremiumPayment(**(fields | changes))  # type: ignore[arg-type]


def test_r6_resident_premium_on_behalf_is_paid_from_the_sons_account_not_as_a_sale(
    till: Till, mock: MockGateway
) -> None:
    quote = till.preview_premium(mothers_premium())
    assert [(leg.source, leg.payer_id, leg.amount) for leg in quote.legs] == [
        ("mutual_aid", SON, Fen(38_000))
    ]
    paid = till.pay_premium(mothers_premium(), key="PREMIUM-0001")
    assert (paid.payer_id, paid.insured_id, paid.amount) == (SON, MOTHER, Fen(38_000))
    assert paid.kind == "resident_premium" and paid.relation == "parent"
    assert paid.balance == mock.balance(SON) == Fen(462_000)
    # Paid to the collector: no settlement at the centre, nothing owed to the pharmacy.
    assert mock.centre.settlements_on(beijing.day(mock.centre.clock())) == []
    assert mock.check() == []


def test_a_premium_purchase_is_refused_as_a_sale_with_the_way_to_pay_it(
    till: Till, mock: MockGateway
) -> None:
    premium_sale = Purchase(
        credential=Credential.id_card(MOTHER),
        items=[drug(38_000, category="premium", coverage="C")],
        purpose="resident_premium",
        use_mutual_aid=True,
    )
    sent = mock.recent.total
    for attempt in (till.preview, lambda p: till.settle(p, key="PREMIUM-SALE")):
        with pytest.raises(InvalidInput, match=r"pay_premium") as refused:
            attempt(premium_sale)
        assert "not into a pharmacy sale" in str(refused.value)
    assert mock.recent.total == sent  # refused before anything was sent
    assert mock.balance(SON) == Fen(500_000)


def test_the_mock_centre_refuses_a_premium_sent_as_a_2102(mock: MockGateway) -> None:
    from gongji_mock.centre.decisions import CentreRefusal

    premium_sale = Purchase(
        credential=Credential.id_card(MOTHER),
        items=[drug(38_000, category="premium", coverage="C")],
        purpose="resident_premium",
        use_mutual_aid=True,
    )
    with pytest.raises(CentreRefusal, match="premium channel"):
        mock.centre.settle(premium_sale, msgid="M-PREMIUM-SALE")
    assert mock.balance(SON) == Fen(500_000) and mock.check() == []


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_gateway_without_the_premium_capability_refuses_before_any_io(driver: str) -> None:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.url}")

    gateway = CityInsuranceGateway(
        profile=CITIES["dalian"],  # a real city: no premium channel configured
        institution=Institution(code="H21020200001", name="药房"),
        auth=TifAuth(TifSigner("POS01", "secret")),
    )
    assert Capability.PREMIUM not in gateway.capabilities
    if driver == "sync":
        client = SettlementClient(
            gateway=gateway, transport=httpx.MockTransport(no_network), journal=MemoryJournal()
        )
        with client, pytest.raises(ConfigError, match="no premium channel"):
            client.pay_premium(mothers_premium(), key="PREMIUM-NOCAP")
        return
    import asyncio

    from gongji import AsyncSettlementClient

    async def attempt() -> None:
        async_client = AsyncSettlementClient(
            gateway=gateway, transport=httpx.MockTransport(no_network), journal=MemoryJournal()
        )
        try:
            with pytest.raises(ConfigError, match="no premium channel"):
                await async_client.preview_premium(mothers_premium())
        finally:
            await async_client.aclose()

    asyncio.run(attempt())


def test_a_city_declares_the_premium_capability_only_where_its_profile_names_a_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    institution = Institution(code="H21020200001", name="药房")
    auth = TifAuth(TifSigner("POS01", "secret"))
    for city in CITIES.values():
        gateway = CityInsuranceGateway(profile=city, institution=institution, auth=auth)
        assert Capability.PREMIUM not in gateway.capabilities
    monkeypatch.setenv("GONGJI_TEST_TIF_SECRET", "secret")
    configured = CityInsuranceGateway.from_settings(
        {
            "city": "dalian",
            "premium_url": "https://premium.example/collect",
            "institution_code": "H21020200001",
            "paasid": "POS01",
            "secret_env": "GONGJI_TEST_TIF_SECRET",
        }
    )
    assert Capability.PREMIUM in configured.capabilities


def test_r6_resident_premium_for_someone_on_employee_insurance_is_refused(
    till: Till, mock: MockGateway
) -> None:
    with pytest.raises(UseViolation, match="employee insurance"):
        till.pay_premium(mothers_premium(insured_id=FATHER), key="PREMIUM-0002")
    assert mock.balance(SON) == Fen(500_000) and mock.check() == []


def test_r5_a_premium_is_paid_only_by_a_bound_owner(till: Till, mock: MockGateway) -> None:
    # The wife has no binding with the mother, and hers with the daughter is pending.
    with pytest.raises(KinshipViolation, match="no mutual-aid binding"):
        till.pay_premium(mothers_premium(credential=Credential.id_card(WIFE)), key="PREMIUM-0003")
    with pytest.raises(KinshipViolation) as pending:
        till.pay_premium(
            mothers_premium(
                credential=Credential.id_card(WIFE), insured_id=DAUGHTER, amount=Fen(32_000)
            ),
            key="PREMIUM-0004",
        )
    assert pending.value.rule == "R5"
    assert mock.balance(WIFE) == Fen(80_000) and mock.check() == []


def test_r8_a_premium_is_paid_whole_or_not_at_all(till: Till, mock: MockGateway) -> None:
    # The son's limit for his mother is 400 yuan a transaction: a 450-yuan premium does not
    # fit, and a premium is never split with cash.
    with pytest.raises(LimitExceeded, match="paid whole"):
        till.pay_premium(mothers_premium(amount=Fen(45_000)), key="PREMIUM-0005")
    assert mock.balance(SON) == Fen(500_000) and mock.check() == []


def test_r1_a_premium_is_paid_from_the_payers_own_credential(till: Till, mock: MockGateway) -> None:
    with pytest.raises(OwnCardViolation, match="冒名"):
        till.pay_premium(mothers_premium(payer_id=WIFE), key="PREMIUM-0006")
    with pytest.raises(InvalidInput, match="insured person's own"):
        till.pay_premium(mothers_premium(credential=Credential.id_card(MOTHER)), key="PREMIUM-0007")
    assert balances(mock)[SON] == Fen(500_000)


def test_one_key_pays_a_premium_at_most_once(till: Till, mock: MockGateway) -> None:
    first = till.pay_premium(mothers_premium(), key="PREMIUM-0008")
    again = till.pay_premium(mothers_premium(), key="PREMIUM-0008")
    assert again == first
    assert mock.balance(SON) == Fen(462_000)
    with pytest.raises(InvalidInput, match="different sale or premium"):
        till.pay_premium(mothers_premium(amount=Fen(32_000)), key="PREMIUM-0008")
    # A second premium for the same person and year is the collector's to refuse.
    with pytest.raises(Declined, match="already paid"):
        till.pay_premium(mothers_premium(), key="PREMIUM-0009")
    assert mock.balance(SON) == Fen(462_000) and mock.check() == []


def test_a_premium_whose_answer_was_lost_is_reversed_then_paid_again_with_its_key(
    till: Till, mock: MockGateway
) -> None:
    mock.faults.add("drop_after_commit", target="premium", code=PAY, times=1)
    with pytest.raises(Unavailable, match="reversed"):
        till.pay_premium(mothers_premium(), key="PREMIUM-0010")
    assert mock.balance(SON) == Fen(500_000) and mock.check() == []
    paid = till.pay_premium(mothers_premium(), key="PREMIUM-0010")
    assert paid.amount == Fen(38_000) and mock.balance(SON) == Fen(462_000)
    assert mock.check() == []


def test_recover_reverses_a_premium_a_crash_left_in_doubt(mock: MockGateway) -> None:
    journal = MemoryJournal()

    def crash_after_the_payment(boundary: str) -> None:
        if boundary == f"after send POST {PAY}":
            raise SystemExit("the till died")

    crashing = SettlementClient.from_profile(
        "mock", mock=mock, journal=journal, checkpoint=crash_after_the_payment
    )
    with pytest.raises(SystemExit):
        crashing.pay_premium(mothers_premium(), key="PREMIUM-0011")
    assert journal.get("PREMIUM-0011").state is EntryState.CENTRE_PENDING  # type: ignore[union-attr]
    assert mock.balance(SON) == Fen(462_000)  # the collector took it; the till never knew
    journal.release("PREMIUM-0011")  # the dead till's hold on the key
    with SettlementClient.from_profile("mock", mock=mock, journal=journal) as restarted:
        [ended] = restarted.recover()
    assert ended.state is EntryState.FAILED and "premium channel reversed" in ended.reason
    assert mock.balance(SON) == Fen(500_000) and mock.check() == []


def test_a_paid_premium_is_not_refunded_at_the_till_nor_counted_in_the_centres_day(
    till: Till, mock: MockGateway
) -> None:
    paid = till.pay_premium(mothers_premium(), key="PREMIUM-0012")
    with pytest.raises(InvalidInput, match="does not refund or cancel"):
        till.refund(paid.payment_id)
    report = till.reconcile(beijing.day(mock.centre.clock()))
    assert report.clean
    assert mock.balance(SON) == Fen(462_000)


def test_the_premium_is_priced_by_the_pack_where_it_sets_a_price(
    till: Till, mock: MockGateway
) -> None:
    # The demo pack (illustrative) prices a child's premium at 320 yuan: 380 is refused.
    with pytest.raises(Declined, match=r"320\.00"):
        till.pay_premium(
            mothers_premium(insured_id=DAUGHTER, amount=Fen(38_000)), key="PREMIUM-0013"
        )
    paid = till.pay_premium(
        mothers_premium(insured_id=DAUGHTER, amount=Fen(32_000)), key="PREMIUM-0014"
    )
    assert paid.relation == "child" and mock.balance(SON) == Fen(468_000)


def test_the_premium_receipt_shows_masked_ids_only(till: Till) -> None:
    paid = till.pay_premium(mothers_premium(), key="PREMIUM-0015")
    assert SON not in repr(paid) and MOTHER not in repr(paid)
    assert paid.paid_at is not None and paid.paid_at.utcoffset() == datetime.timedelta(hours=8)


def test_a_replayed_premium_answer_naming_another_payment_is_reversed_never_booked(
    mock: MockGateway,
) -> None:
    """The channel's answer to an earlier payment, replayed for a second one (payer,
    insured, kind and amount all alike): the journal refuses the write that would book
    the earlier payment's id for a second sale, and the second payment is reversed."""
    answered: list[httpx.Response] = []
    inner = mock.transport()

    def replaying(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        if request.url.path != PAY:
            return response
        response.read()
        if answered:  # the first payment's answer again
            first = answered[0]
            return httpx.Response(first.status_code, headers=first.headers, content=first.content)
        answered.append(response)
        return response

    client = SettlementClient.from_profile(
        "mock", mock=mock, transport=httpx.MockTransport(replaying)
    )
    first = client.pay_premium(mothers_premium(), key="PREMIUM-REPLAY-1")
    with pytest.raises(Unavailable, match="reversed"):
        client.pay_premium(mothers_premium(), key="PREMIUM-REPLAY-2")
    assert mock.balance(SON) == Fen(462_000) and mock.check() == []  # paid once
    booked = client.setup.journal.by_settlement(first.payment_id)
    second = client.setup.journal.get("PREMIUM-REPLAY-2")
    client.close()
    assert booked is not None and booked.key == "PREMIUM-REPLAY-1"
    assert second is not None and second.state is EntryState.FAILED
