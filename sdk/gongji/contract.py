"""The adapter contract as a test suite a third-party adapter runs against itself.

Subclass a contract in your own tests and provide its fixtures::

    from gongji.contract import PaymentChannelContract

    class TestMyChannel(PaymentChannelContract):
        @pytest.fixture
        def channel(self): return MyChannel(...)            # your adapter
        @pytest.fixture
        def http(self): return httpx.Client(transport=...)  # reaches a gateway speaking its protocol
        @pytest.fixture
        def payment_code(self): return "..."                # a code that pays at once there

gongji runs the same classes over its own adapters, against the mock gateway
(tests/adapters/test_contract.py). Needs pytest (the ``dev`` extra).
"""

from __future__ import annotations

import secrets
from collections.abc import Generator
from typing import Any

import httpx
import pytest

from gongji import clock as gongji_clock
from gongji.client import drive
from gongji.errors import ConfigError
from gongji.gateways import (
    Capability,
    CashOrder,
    InsuranceGateway,
    OutpatientGateway,
    PaymentChannel,
    PaymentState,
    Registration,
    SessionGateway,
    SettlementRequest,
)
from gongji.identity import Credential
from gongji.model import Diagnosis, LineItem, Setting, Visit
from gongji.money import Fen

__all__ = ["InsuranceGatewayContract", "PaymentChannelContract"]


def _first_step(flow: Generator[Any, Any, Any]) -> Any:
    try:
        return next(flow)
    finally:
        flow.close()


class PaymentChannelContract:
    """What every ``PaymentChannel`` must do. Fixtures: ``channel``, ``http``, ``payment_code``."""

    def test_channel_satisfies_the_protocol(self, channel: PaymentChannel) -> None:
        assert isinstance(channel, PaymentChannel)
        assert channel.name and isinstance(channel.capabilities, frozenset)
        assert all(isinstance(c, Capability) for c in channel.capabilities)

    def test_operations_are_flows_that_yield_a_request_before_any_io(
        self, channel: PaymentChannel
    ) -> None:
        step = _first_step(channel.query("CONTRACT-NOTHING-SENT"))
        assert isinstance(step, httpx.Request)

    def test_undeclared_capability_is_refused_before_the_network(
        self, channel: PaymentChannel, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(channel, "capabilities", frozenset())
        with pytest.raises(ConfigError):
            _first_step(channel.query("CONTRACT-REFUSED"))

    def test_repr_shows_no_payment_code(self, channel: PaymentChannel, payment_code: str) -> None:
        order = CashOrder(out_trade_no="CONTRACT-REPR-1", amount=Fen(100), auth_code=payment_code)
        assert payment_code not in repr(order) and payment_code not in repr(channel)

    def test_charge_then_query_agree_and_a_repeat_charges_once(
        self, channel: PaymentChannel, http: httpx.Client, payment_code: str
    ) -> None:
        order = CashOrder(
            out_trade_no=f"CT{secrets.token_hex(8)}", amount=Fen(1234), auth_code=payment_code
        )
        paid = drive(channel.charge(order), http)
        assert paid.state is PaymentState.PAID and paid.amount == Fen(1234)
        queried = drive(channel.query(order.out_trade_no), http)
        assert (queried.state, queried.amount) == (PaymentState.PAID, Fen(1234))
        again = drive(channel.charge(order), http)
        assert again.transaction_id == paid.transaction_id

    def test_unknown_trade_is_not_found(self, channel: PaymentChannel, http: httpx.Client) -> None:
        found = drive(channel.query(f"CT{secrets.token_hex(8)}"), http)
        assert found.state is PaymentState.NOT_FOUND

    def test_refund_gives_back_the_amount(
        self, channel: PaymentChannel, http: httpx.Client, payment_code: str
    ) -> None:
        if Capability.REFUND not in channel.capabilities:
            pytest.skip("the channel does not declare refunds")
        order = CashOrder(
            out_trade_no=f"CT{secrets.token_hex(8)}", amount=Fen(500), auth_code=payment_code
        )
        drive(channel.charge(order), http)
        refund = drive(
            channel.refund(order.out_trade_no, f"{order.out_trade_no}-R", Fen(500), Fen(500)), http
        )
        assert refund.amount == Fen(500) and refund.state in ("success", "processing")


class InsuranceGatewayContract:
    """What every ``InsuranceGateway`` must do. Fixtures: ``gateway``, ``http``, ``credential``
    (one the gateway resolves), ``credential_id`` (its holder's ID number)."""

    def test_gateway_satisfies_the_protocol(self, gateway: InsuranceGateway) -> None:
        assert isinstance(gateway, InsuranceGateway)
        assert len(gateway.region) == 6 and gateway.region.isdigit()
        assert all(isinstance(c, Capability) for c in gateway.capabilities)

    def test_msgids_are_unique(self, gateway: InsuranceGateway, http: httpx.Client) -> None:
        ids = {drive(gateway.new_msgid(), http) for _ in range(200)}
        assert len(ids) == 200 and all(1 <= len(i) <= 30 for i in ids)

    def test_operations_are_flows_that_yield_a_request_before_any_io(
        self, gateway: InsuranceGateway, credential: Credential
    ) -> None:
        assert isinstance(_first_step(gateway.person(credential)), httpx.Request)

    def test_undeclared_capability_is_refused_before_the_network(
        self, gateway: InsuranceGateway, credential: Credential, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(gateway, "capabilities", frozenset())
        with pytest.raises(ConfigError):
            _first_step(gateway.person(credential))

    def test_person_resolves_the_credential(
        self,
        gateway: InsuranceGateway,
        http: httpx.Client,
        credential: Credential,
        credential_id: str,
    ) -> None:
        holder = drive(gateway.person(credential), http)
        assert holder.person.id == credential_id and holder.psn_no
        assert credential_id not in repr(holder)

    def test_a_declared_sign_out_ends_the_sign_in_once_and_asks_nothing_more(
        self, gateway: InsuranceGateway, http: httpx.Client, credential: Credential
    ) -> None:
        if Capability.SIGN_OUT not in gateway.capabilities:
            pytest.skip("the gateway does not declare a sign-out (its centre keeps no sign-in)")
        assert isinstance(gateway, SessionGateway)
        drive(gateway.person(credential), http)  # signed in, as every first message is
        assert drive(gateway.sign_out(), http) is True
        with pytest.raises(StopIteration):  # nothing left to end: nothing is sent
            _first_step(gateway.sign_out())

    def test_a_declared_outpatient_visit_registers_takes_its_fees_and_pre_settles(
        self, gateway: InsuranceGateway, http: httpx.Client, credential: Credential
    ) -> None:
        needed = {Capability.REGISTER, Capability.DIAGNOSE, Capability.UPLOAD_FEES}
        if not needed <= gateway.capabilities:
            pytest.skip("the gateway does not declare outpatient registration and fee upload")
        assert isinstance(gateway, OutpatientGateway)
        holder = drive(gateway.person(credential), http)
        registration = Registration(
            psn_no=holder.psn_no,
            patient=holder.person,
            credential=credential,
            department="CONTRACT",
            doctor="CONTRACT",
            department_code="CONTRACT",
            doctor_code="D-CONTRACT",
            outpatient_no="OP-CONTRACT",
            department_category="A03",
            begins_at=gongji_clock.now(),
        )
        visit_id = drive(gateway.register(registration, drive(gateway.new_msgid(), http)), http)
        assert visit_id
        visit = Visit(
            visit_id=visit_id,
            psn_no=holder.psn_no,
            patient_id=holder.person.id,
            department="CONTRACT",
            doctor="CONTRACT",
            department_code="CONTRACT",
            doctor_code="D-CONTRACT",
            outpatient_no="OP-CONTRACT",
            batch="B-CONTRACT",
        )
        diagnosis = Diagnosis(code="I10.x00", name="contract")
        drive(gateway.diagnose(visit, (diagnosis,), drive(gateway.new_msgid(), http)), http)
        fee = LineItem(code="CONTRACT-FEE", name="contract", unit_price=Fen(1_000), quantity=2)
        assert drive(
            gateway.upload_fees(visit, (fee,), drive(gateway.new_msgid(), http)), http
        ) == Fen(2_000)
        request = SettlementRequest(
            psn_no=holder.psn_no,
            patient=holder.person,
            credential=credential,
            items=(fee,),
            setting=Setting.OUTPATIENT,
            visit_id=visit_id,
            charge_batch=visit.batch,
        )
        quote = drive(gateway.pre_settle(request), http)
        assert quote.total == Fen(2_000) and quote.mdtrt_id == visit_id
