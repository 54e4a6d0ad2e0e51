"""The city-insurance adapter's requests, pinned against the national interface as
published (envelope fields, 1101 / 2101 / 2102 / 2601 inputs, yuan strings with two
decimals, TIF headers), and its reading of the centre's answers."""

from __future__ import annotations

import datetime
import json
from typing import Any

import attrs
import httpx
import pytest
import respx

from gongji import (
    ConfigError,
    Credential,
    Declined,
    Fen,
    LineItem,
    SignatureError,
    Unavailable,
    UntrustedAnswer,
)
from gongji.client import drive
from gongji.clock import BEIJING
from gongji.gateways import Capability, SettlementRequest
from gongji.journal import MemoryJournal, MsgidOwner
from gongji.model import Insurance, Person, PersonalAccount
from gongji.signing.csb import CsbAuth, CsbSigner
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution, transform, wire

URL = "https://centre.test/fsi/api/rsfComIfsService/callService"
MOTHER = "210202195809120046"
SETTLED = {
    "setlinfo": {
        "setl_id": "S1",
        "mdtrt_id": "M1",
        "psn_no": "P1",
        "certno": MOTHER,
        "medfee_sumamt": "99.90",
        "fund_pay_sumamt": "50.00",
        "acct_pay": "0.00",
        "acct_mulaid_pay": "40.00",
        "psn_cash_pay": "9.90",
        "balc": "0.00",
    },
    "gongji_mulaid_detail": [
        {"psn_no": "P2", "certno": "210202198503170036", "relation": "parent", "amount": "40.00"}
    ],
}


def gateway(signing: str = "tif", extensions: bool = True) -> CityInsuranceGateway:
    profile = CITIES["dalian"]
    profile = type(profile)(
        city="dalian",
        region="210200",
        policy=profile.policy,
        base_url="https://centre.test",
        signing=signing,  # type: ignore[arg-type]
        extensions=extensions,
    )
    auth: httpx.Auth = (
        TifAuth(TifSigner("POS01", "s3cret"))
        if signing == "tif"
        else CsbAuth(CsbSigner(access_key="AK", secret="s3cret", api_name="hsa.fsi"))
    )
    return CityInsuranceGateway(
        profile=profile,
        institution=Institution(code="H21020200001", name="大连测试药房"),
        auth=auth,
    )


def answering(
    *outputs: Any, status: int = 200
) -> tuple[httpx.Client, list[dict[str, Any]], list[httpx.Request]]:
    """A client whose centre signs in, then answers ``outputs`` in turn."""
    router = respx.Router()
    sent: list[dict[str, Any]] = []
    requests: list[httpx.Request] = []
    answers = iter(
        [{"signinoutb": {"sign_no": "SIGN1", "sign_time": "2026-11-23 09:00:00"}}, *outputs]
    )

    def centre(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        requests.append(request)
        output = next(answers)
        if isinstance(output, httpx.Response):
            return output
        return httpx.Response(status, json={"infcode": 0, "output": output, "err_msg": None})

    router.post(URL).mock(side_effect=centre)
    return httpx.Client(transport=httpx.MockTransport(router.handler)), sent, requests


def request_for(*items: LineItem) -> SettlementRequest:
    return SettlementRequest(
        psn_no="P1",
        patient=Person(
            id=MOTHER, name="王秀兰", insurance=Insurance(kind="resident", region="210202")
        ),
        credential=Credential.id_card(MOTHER),
        items=items,
    )


def test_envelope_carries_the_national_fields_and_the_sign_in_number() -> None:
    client, sent, requests = answering(
        {
            "baseinfo": {"psn_no": "P1", "certno": MOTHER, "psn_name": "王秀兰"},
            "insuinfo": [{"insutype": "390", "balc": "0.00", "insuplc_admdvs": "210202"}],
        }
    )
    holder = drive(gateway().person(Credential.id_card(MOTHER)), client)
    sign_in, person = sent
    assert sign_in["infno"] == "9001" and sign_in["input"] == {
        "signIn": {"opter_no": "001", "mac": "00-00-00-00-00-00", "ip": "127.0.0.1"}
    }
    assert person["infno"] == "1101" and person["sign_no"] == "SIGN1"
    assert person["input"] == {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": MOTHER}}
    assert len(person["msgid"]) == 30 and person["msgid"].startswith("H21020200001")
    for field in (
        "mdtrtarea_admvs",
        "insuplc_admdvs",
        "recer_sys_code",
        "infver",
        "opter_type",
        "opter",
        "opter_name",
        "inf_time",
        "fixmedins_code",
        "fixmedins_name",
    ):
        assert person[field], field
    headers = requests[1].headers
    assert {"x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature"} <= set(headers)
    assert holder.psn_no == "P1" and holder.person.id == MOTHER


def test_settle_sends_yuan_strings_with_two_decimals_and_class_codes() -> None:
    client, sent, _ = answering(SETTLED)
    items = (
        LineItem(code="XA01", name="阿莫西林", unit_price=Fen(3330), quantity=3, coverage="A"),
    )
    settlement = drive(
        gateway().settle(request_for(*items), "H2102020000120261123090000001"), client
    )
    message = sent[1]
    assert message["infno"] == "2102" and message["msgid"] == "H2102020000120261123090000001"
    data, (line,) = message["input"]["data"], message["input"]["feedetail"]
    assert (
        data["medfee_sumamt"] == "99.90"
        and data["mdtrt_cert_type"] == "02"
        and data["insutype"] == "390"
    )
    assert line == {
        "feedetl_sn": "1",
        "rx_circ_flag": "0",
        "fee_ocur_time": line["fee_ocur_time"],
        "med_list_codg": "XA01",
        "medins_list_codg": "XA01",
        "cnt": 3,
        "pric": "33.30",
        "det_item_fee_sumamt": "99.90",
        "gongji_chrgitm_lv": "01",
        "gongji_category": "drug",
        "gongji_item_name": "阿莫西林",
    }
    assert (settlement.total, settlement.fund, settlement.cash) == (Fen(9990), Fen(5000), Fen(990))
    assert [s.amount for s in settlement.mutual_aid] == [Fen(4000)]


def test_extensions_are_sent_only_where_the_city_declares_them() -> None:
    client, sent, _ = answering(SETTLED)
    plain = gateway(extensions=False)
    assert Capability.BINDINGS not in plain.capabilities
    drive(
        plain.pre_settle(
            request_for(LineItem(code="X", name="", unit_price=Fen(9990), quantity=1))
        ),
        client,
    )
    assert not any(key.startswith("gongji_") for key in json.dumps(sent[1]["input"]).split('"'))
    with pytest.raises(ConfigError, match="does not offer 'bindings'"):
        next(plain.bindings(None))  # type: ignore[arg-type]


def test_a_split_that_does_not_add_up_is_not_trusted() -> None:
    broken = json.loads(json.dumps(SETTLED))
    broken["setlinfo"]["psn_cash_pay"] = "9.80"
    client, _, _ = answering(broken)
    with pytest.raises(UntrustedAnswer, match="does not add up"):
        drive(
            gateway().settle(
                request_for(LineItem(code="X", name="", unit_price=Fen(9990), quantity=1)), "M1"
            ),
            client,
        )


def test_a_third_decimal_from_the_centre_is_refused_not_rounded() -> None:
    broken = json.loads(json.dumps(SETTLED))
    broken["setlinfo"]["psn_cash_pay"] = "9.901"
    client, _, _ = answering(broken)
    with pytest.raises(UntrustedAnswer, match="whole, non-negative number of fen"):
        drive(
            gateway().settle(
                request_for(LineItem(code="X", name="", unit_price=Fen(9990), quantity=1)), "M1"
            ),
            client,
        )


def test_refusal_carries_the_centres_infcode_and_message() -> None:
    refusal = httpx.Response(
        200, json={"infcode": -1, "err_msg": "余额不足 / balance", "output": None}
    )
    client, _, _ = answering(refusal)
    with pytest.raises(Declined) as raised:
        drive(gateway().person(Credential.id_card(MOTHER)), client)
    assert raised.value.infcode == "-1" and raised.value.err_msg == "余额不足 / balance"


def test_lost_sign_in_is_renewed_and_the_same_msgid_sent_again() -> None:
    lost = httpx.Response(
        200, json={"infcode": -1, "err_msg": "未签到或签到编号无效，请先签到(9001)"}
    )
    again = {"signinoutb": {"sign_no": "SIGN2"}}
    person = {"baseinfo": {"psn_no": "P1", "certno": MOTHER}, "insuinfo": []}
    client, sent, _ = answering(lost, again, person)
    drive(gateway().person(Credential.id_card(MOTHER)), client)
    assert [m["infno"] for m in sent] == ["9001", "1101", "9001", "1101"]
    assert sent[1]["msgid"] == sent[3]["msgid"] and sent[3]["sign_no"] == "SIGN2"


@pytest.mark.parametrize(("status", "error"), [(503, Unavailable), (401, SignatureError)])
def test_http_failures_map_to_errors_a_flow_can_act_on(status: int, error: type[Exception]) -> None:
    client, _, _ = answering(httpx.Response(status, json={"infcode": -1, "err_msg": "x"}))
    with pytest.raises(error):
        drive(gateway().person(Credential.id_card(MOTHER)), client)


def test_csb_cities_sign_with_the_csb_headers() -> None:
    client, _, requests = answering(
        {"baseinfo": {"psn_no": "P1", "certno": MOTHER}, "insuinfo": []}
    )
    drive(gateway(signing="csb").person(Credential.id_card(MOTHER)), client)
    assert {"_api_name", "_api_timestamp", "_api_access_key", "_api_signature"} <= set(
        requests[1].headers
    )
    assert "x-tif-signature" not in requests[1].headers


def test_a_negative_share_in_a_settlement_is_not_trusted() -> None:
    broken = json.loads(json.dumps(SETTLED))
    broken["setlinfo"]["fund_pay_sumamt"] = "-10.00"
    broken["setlinfo"]["psn_cash_pay"] = "69.90"
    client, _, _ = answering(broken)
    with pytest.raises(UntrustedAnswer, match="non-negative"):
        drive(
            gateway().settle(
                request_for(LineItem(code="X", name="", unit_price=Fen(9990), quantity=1)), "M1"
            ),
            client,
        )


def test_the_centres_refusal_never_carries_a_full_id_number() -> None:
    echoed = httpx.Response(
        200, json={"infcode": -1, "err_msg": f"人员{MOTHER}不存在 / no such person"}
    )
    client, _, _ = answering(echoed)
    with pytest.raises(Declined) as raised:
        drive(gateway().person(Credential.id_card(MOTHER)), client)
    assert MOTHER not in str(raised.value) and MOTHER not in (raised.value.err_msg or "")
    assert "210202********0046" in str(raised.value)


def issued(numbering: CityInsuranceGateway) -> str:
    """A msgid of a gateway numbering from a journal in memory (no step to drive)."""
    flow = numbering.new_msgid()
    try:
        next(flow)
    except StopIteration as done:
        return str(done.value)
    raise AssertionError("a journal in memory is called in place, not as a step")


def test_two_gateways_numbering_from_one_journal_never_share_a_msgid() -> None:
    journal = MemoryJournal()
    first, second = gateway().with_journal(journal), gateway().with_journal(journal)
    ids = [issued(g) for _ in range(500) for g in (first, second)]
    assert len(set(ids)) == len(ids)
    assert journal.msgid_owner(ids[0]) == MsgidOwner(key="", purpose="read")


def test_a_read_whose_msgid_another_till_took_is_sent_again_under_a_new_one() -> None:
    taken = httpx.Response(
        200, json={"infcode": -1, "err_msg": "报文ID重复且内容不同，不予处理 / taken"}
    )
    person = {"baseinfo": {"psn_no": "P1", "certno": MOTHER}, "insuinfo": []}
    client, sent, _ = answering(taken, person)
    drive(gateway().person(Credential.id_card(MOTHER)), client)
    assert [m["infno"] for m in sent] == ["9001", "1101", "1101"]
    assert sent[1]["msgid"] != sent[2]["msgid"]


def test_tills_of_one_institution_never_share_a_msgid() -> None:
    first = CityInsuranceGateway(
        profile=gateway().profile,
        institution=Institution(code="H21020200001", name="x", till=1),
        auth=TifAuth(TifSigner("P", "s")),
    )
    second = CityInsuranceGateway(
        profile=gateway().profile,
        institution=Institution(code="H21020200001", name="x", till=2),
        auth=TifAuth(TifSigner("P", "s")),
    )
    ids = [issued(g) for _ in range(99) for g in (first, second)]
    assert len(set(ids)) == len(ids)
    assert {i[-4:-2] for i in ids[::2]} == {"01"} and {i[-4:-2] for i in ids[1::2]} == {"02"}


def test_a_till_sending_more_than_100_messages_a_second_never_repeats_a_msgid() -> None:
    # Found by the soak: the 2-digit serial of a till wrapped within one second, and the
    # centre refused the repeated msgid of a journaled cancellation, for good.
    second = datetime.datetime(2026, 11, 23, 9, 0, 0, tzinfo=datetime.UTC)
    busy = CityInsuranceGateway(
        profile=gateway().profile,
        institution=Institution(code="H21020200001", name="x", till=7),
        auth=TifAuth(TifSigner("P", "s")),
        clock=lambda: second,
    )
    ids = [issued(busy) for _ in range(350)]
    assert len(set(ids)) == len(ids)
    assert {i[-4:-2] for i in ids} == {"07"}
    stamps = [i[12:26] for i in ids]
    assert stamps == sorted(stamps)  # the next seconds are taken as rows, in order
    # 09:00 UTC is 17:00 in Beijing, the msgid's time.
    assert stamps[0] == "20261123170000" and stamps[-1] == "20261123170003"


def test_a_read_whose_msgid_was_taken_or_reversed_goes_again_under_new_ones() -> None:
    taken = httpx.Response(200, json={"infcode": -1, "err_msg": "报文ID重复且内容不同，不予处理"})
    reversed_ = httpx.Response(200, json={"infcode": -1, "err_msg": "该报文已被冲正，不予处理"})
    person = {"baseinfo": {"psn_no": "P1", "certno": MOTHER}, "insuinfo": []}
    client, sent, _ = answering(taken, reversed_, taken, person)
    drive(gateway().person(Credential.id_card(MOTHER)), client)
    msgids = [m["msgid"] for m in sent[1:]]
    assert len(msgids) == 4 and len(set(msgids)) == 4


def test_a_journaled_write_refused_for_its_msgid_says_so_in_its_code() -> None:
    # The caller journaled the msgid: only it may choose another (the undo flow does).
    taken = httpx.Response(200, json={"infcode": -1, "err_msg": "报文ID重复且内容不同，不予处理"})
    declined = httpx.Response(200, json={"infcode": -1, "err_msg": "结算已撤销 / cancelled"})
    for answer, code in ((taken, "msgid_refused"), (declined, "declined")):
        client, sent, _ = answering(answer)
        with pytest.raises(Declined) as raised:
            drive(gateway().reverse("H2102000000120261123090000", "P1", "MSG-1"), client)
        assert raised.value.code == code
        assert [m["msgid"] for m in sent[1:]] == ["MSG-1"]  # never another msgid of its own


def _flag(request: SettlementRequest, reading: str = "account") -> str:
    dialect = transform.Dialect(acct_used_flag=reading)  # type: ignore[arg-type]
    return str(
        transform.settle_input(request, datetime.datetime.now(BEIJING), dialect)["data"][
            "acct_used_flag"
        ]
    )


def test_acct_used_flag_keeps_the_own_account_paying_and_carries_the_choice_where_it_can() -> None:
    # NATIONAL.md §13: whether a centre reads 0 as "no mutual aid" or as "no account at all"
    # is unconfirmed; by default 0 goes only where no account of the patient's would pay.
    resident = request_for(LineItem(code="X01", name="药", unit_price=Fen(100), quantity=1))
    employee = attrs.evolve(
        resident,
        patient=attrs.evolve(resident.patient, account=PersonalAccount(balance=Fen(10_000))),
    )
    asked = attrs.evolve(resident, use_mutual_aid=True)
    assert (_flag(resident), _flag(asked), _flag(employee)) == ("0", "1", "1")
    # A region that confirms the flag as the patient's choice of mutual aid sends the choice.
    assert (
        _flag(employee, "mutual_aid"),
        _flag(attrs.evolve(employee, use_mutual_aid=True), "mutual_aid"),
    ) == ("0", "1")


def test_gongji_fields_in_an_answer_are_read_only_where_the_profile_has_extensions() -> None:
    answer = wire.decode(
        json.dumps(
            {
                "setlinfo": {
                    "setl_id": "S1",
                    "medfee_sumamt": "500.00",
                    "fund_pay_sumamt": "0",
                    "acct_pay": "0",
                    "acct_mulaid_pay": "400.00",
                    "psn_cash_pay": "100.00",
                },
                "gongji_mulaid_detail": [
                    {"certno": "210202198503170036", "relation": "child", "amount": "400.00"}
                ],
                "gongji_refusals": [{"rule": "R5", "reason": "pending"}],
            }
        ).encode(),
        wire.SettlementAnswer,
    )
    plain = transform.settlement_from(answer, "M1", dialect=transform.Dialect())
    assert [(s.owner_id, s.amount) for s in plain.mutual_aid] == [(None, Fen(40_000))]
    assert plain.refusals == ()
    extended = transform.settlement_from(answer, "M1", dialect=transform.Dialect(extensions=True))
    assert [(s.owner_id, s.amount) for s in extended.mutual_aid] == [
        ("210202198503170036", Fen(40_000))
    ]
    assert [r.rule for r in extended.refusals] == ["R5"]
