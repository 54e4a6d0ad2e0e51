"""What the contract cannot know about this channel: its plugin registration, its
signatures, its refusals, and a whole sale at gongji's mock centre paid by campus card."""

from __future__ import annotations

from pathlib import Path

import gongji
import httpx
import pytest
from gongji.client import drive
from gongji.errors import SignatureError
from gongji.gateways import CashOrder, PaymentState
from gongji.plugins import adapter_registry, make_plugin_manager
from gongji_mock import MockGateway

from gongji_campuscard import (
    DEMO_SECRET,
    DEMO_TERMINAL,
    PAYING_CODE,
    POOR_CODE,
    CampusCardChannel,
    CampusCardOffice,
)
from gongji_campuscard.gateway import DEFAULT_BASE_URL

MOTHER = "210202195809120046"  # the mock's demo patient: resident, her son's account helps


def order(code: str = PAYING_CODE, fen: int = 1_250, out_trade_no: str = "T-0001") -> CashOrder:
    return CashOrder(out_trade_no=out_trade_no, amount=gongji.Fen(fen), auth_code=code)


def test_the_plugin_registers_the_channel_through_its_entry_point(tmp_path: Path) -> None:
    registry = adapter_registry(make_plugin_manager())
    assert registry.get("campuscard", "channel").origin == "campuscard"  # the entry point
    # A relative secret_file is read from the configuration file's folder, as gongji.toml's.
    (tmp_path / "campuscard.secret").write_text(DEMO_SECRET + "\n", encoding="utf-8")
    settings = {"terminal_id": DEMO_TERMINAL, "secret_file": "campuscard.secret"}
    channel = registry.channel("campuscard", settings, tmp_path)
    assert isinstance(channel, CampusCardChannel)
    assert isinstance(channel, gongji.gateways.PaymentChannel)


def test_a_secret_written_into_the_settings_is_refused_and_not_shown() -> None:
    with pytest.raises(gongji.ConfigError, match="inline") as refused:
        CampusCardChannel.from_settings({"terminal_id": DEMO_TERMINAL, "secret": DEMO_SECRET})
    assert DEMO_SECRET not in str(refused.value)


def test_the_secret_comes_from_the_environment_and_never_shows(
    monkeypatch: pytest.MonkeyPatch, office: CampusCardOffice, http: httpx.Client
) -> None:
    monkeypatch.setenv("CAMPUS_DEMO_SECRET", DEMO_SECRET)
    channel = CampusCardChannel.from_settings(
        {"terminal_id": DEMO_TERMINAL, "secret_env": "CAMPUS_DEMO_SECRET"}
    )
    assert drive(channel.charge(order()), http).state is PaymentState.PAID
    assert DEMO_SECRET not in repr(channel) and DEMO_SECRET not in repr(vars(channel))


def test_a_code_of_another_shape_is_refused_before_anything_is_sent(
    channel: CampusCardChannel,
) -> None:
    def nothing_may_be_sent(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.method} {request.url}")

    with (
        httpx.Client(transport=httpx.MockTransport(nothing_may_be_sent)) as http,
        pytest.raises(gongji.InvalidInput, match="not a campus card payment code"),
    ):
        drive(channel.charge(order(code="134567890123456781")), http)


def test_a_card_without_enough_on_it_is_a_failed_payment_not_an_error(
    channel: CampusCardChannel, office: CampusCardOffice, http: httpx.Client
) -> None:
    paid = drive(channel.charge(order(code=POOR_CODE, fen=500)), http)
    assert paid.state is PaymentState.FAILED and "balance" in paid.reason
    assert office.balance("20260002") == gongji.Fen(100)


def test_an_answer_changed_on_the_way_is_refused_before_it_is_read(
    channel: CampusCardChannel, office: CampusCardOffice
) -> None:
    def tampering(request: httpx.Request) -> httpx.Response:
        answer = office.handle(request)
        forged = answer.content.replace(b'"amount_fen":1250', b'"amount_fen":1')
        return httpx.Response(answer.status_code, headers=answer.headers, content=forged)

    with (
        httpx.Client(transport=httpx.MockTransport(tampering)) as http,
        pytest.raises(SignatureError, match="does not verify"),
    ):
        drive(channel.charge(order()), http)


def test_a_wrong_secret_is_refused_and_charges_nothing(
    office: CampusCardOffice, http: httpx.Client
) -> None:
    wrong = CampusCardChannel(terminal_id=DEMO_TERMINAL, secret="not-the-secret")
    with pytest.raises(SignatureError):
        drive(wrong.charge(order()), http)
    assert office.balance("20260001") == gongji.Fen(100_000)


def test_a_callback_is_verified_before_it_is_decoded(
    channel: CampusCardChannel, office: CampusCardOffice, http: httpx.Client
) -> None:
    drive(channel.charge(order()), http)
    headers, body = office.callback(DEMO_TERMINAL, "T-0001")
    told = channel.notification(headers, body)
    assert (told.out_trade_no, told.state, told.amount) == (
        "T-0001",
        PaymentState.PAID,
        gongji.Fen(1_250),
    )
    with pytest.raises(SignatureError):
        channel.notification(headers, body.replace(b"PAID", b"REFUNDED"))
    late = CampusCardChannel(
        terminal_id=DEMO_TERMINAL,
        secret=DEMO_SECRET,
        clock=lambda: int(headers["X-Campus-Timestamp"]) + 301,
    )
    with pytest.raises(SignatureError, match="too far from now"):
        late.notification(headers, body)  # a replay of an old callback


def test_a_sale_at_the_gongji_mock_centre_collects_its_cash_share_on_the_campus_card(
    channel: CampusCardChannel, office: CampusCardOffice
) -> None:
    mock = MockGateway.demo()

    def route(request: httpx.Request) -> httpx.Response:
        # The campus card office and gongji's mock centre, side by side in one transport.
        if request.url.host == httpx.URL(DEFAULT_BASE_URL).host:
            return office.handle(request)
        return mock.handle(request)

    purchase = gongji.Purchase(
        credential=gongji.Credential.id_card(MOTHER),
        items=[
            gongji.LineItem(
                code="XC01", name="降压药", unit_price=gongji.Fen(50_000), quantity=1, coverage="C"
            )
        ],
    )
    with gongji.SettlementClient.from_profile(
        "mock",
        mock=mock,
        channels={"campuscard": channel},
        transport=httpx.MockTransport(route),
    ) as client:
        receipt = client.settle(
            purchase, key="CAMPUS-0001", cash=gongji.Cash.channel("campuscard", PAYING_CODE)
        )
        assert receipt.cash_channel == "campuscard" and receipt.cash > 0
        assert office.balance("20260001") == gongji.Fen(100_000) - receipt.cash
        client.refund(receipt.settlement_id)
    assert office.balance("20260001") == gongji.Fen(100_000)
    assert mock.check() == []
