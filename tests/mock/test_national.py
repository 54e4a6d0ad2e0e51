"""The mock centre's national-envelope endpoint, driven in-process with TIF-signed requests.

A client that skips the SDK's local rules and writes raw envelopes still cannot
impersonate, overdraw, exceed a limit, use a pending binding or replay a used
e-voucher: the centre decides on its own data. Every test leaves a sound ledger.
"""

from __future__ import annotations

import datetime
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gongji import Credential, Purchase
from gongji.clock import BEIJING
from gongji.identity import IdNumber
from gongji.plugins import get_plugin_manager
from gongji.signing.tif import TifSigner
from gongji_mock import MockGateway
from gongji_mock.centre.cards import card_of
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.centre.decisions import Centre, CentreRefusal
from gongji_mock.centre.ledger import FUND
from gongji_mock.national.endpoint import PATH, NationalEndpoint
from gongji_mock.national.vouchers import qr_text
from tests.client.conftest import drug
from tests.mock.conftest import Connect

SON = "210202198503170036"
MOTHER = "210202195809120046"
DAUGHTER = "210202201506010227"
SISTER = "210502198802200422"
WIFE = "210202198605050289"
NOW = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)
PAASID, SECRET = "POS-DALIAN-01", "tif-test-secret"
PHARMACY = "P21020200001"  # 12 characters, as msgids begin with it
YUAN = re.compile(r"-?\d+\.\d{2}")
AMOUNT_FIELDS = {
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "balc",
    "fund_payamt",
    "amount",
    "det_item_fee_sumamt",
    "pric",
    "per_transaction_limit",
}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime.datetime:
        return self.now


class Pos:
    """A raw client: builds national envelopes by hand, with no local rules at all."""

    def __init__(self, client: httpx.Client, signer: TifSigner) -> None:
        self.client, self.signer = client, signer
        self.sign_no: str | None = None
        self._serial = itertools.count(1)

    def msgid(self) -> str:
        return f"{PHARMACY}{NOW:%Y%m%d%H%M%S}{next(self._serial):04d}"

    def envelope(
        self, infno: str, payload: dict[str, Any], msgid: str | None = None
    ) -> dict[str, Any]:
        return {
            "infno": infno,
            "msgid": msgid or self.msgid(),
            "mdtrtarea_admvs": "210200",
            "insuplc_admdvs": "210200",
            "recer_sys_code": "FSI_LOCAL",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "0001",
            "opter_name": "收银员",
            "inf_time": f"{NOW:%Y-%m-%d %H:%M:%S}",
            "fixmedins_code": PHARMACY,
            "fixmedins_name": "大连测试药房",
            "sign_no": self.sign_no,
            "input": payload,
        }

    def post(
        self, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return self.client.post(
            PATH,
            content=content,
            headers=self.signer.headers() if headers is None else headers,
        )

    def call(self, infno: str, payload: dict[str, Any], msgid: str | None = None) -> dict[str, Any]:
        response = self.post(self.envelope(infno, payload, msgid))
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer

    def ok(self, infno: str, payload: dict[str, Any], msgid: str | None = None) -> dict[str, Any]:
        answer = self.call(infno, payload, msgid)
        assert answer["infcode"] == 0, answer["err_msg"]
        output: dict[str, Any] = answer["output"]
        return output

    def sign_in(self) -> str:
        output = self.ok("9001", {"signIn": {"opter_no": "0001", "mac": "00-11", "ip": "10.0.0.5"}})
        self.sign_no = output["signinoutb"]["sign_no"]
        return str(self.sign_no)

    def psn_no(self, id_number: str) -> str:
        output = self.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number}})
        return str(output["baseinfo"]["psn_no"])


def line(
    pric: str | float = "100.00", cnt: int | str = 1, lv: str = "01", **extra: Any
) -> dict[str, Any]:
    return {
        "feedetl_sn": extra.pop("feedetl_sn", "1"),
        "med_list_codg": "XA01BAA001",
        "medins_list_codg": "SKU-1",
        "cnt": cnt,
        "pric": pric,
        "chrgitm_lv": lv,
        **extra,
    }


def settle_input(
    psn_no: str, cert_no: str, *lines: dict[str, Any], cert_type: str = "02", **data: Any
) -> dict[str, Any]:
    return {
        "data": {
            "psn_no": psn_no,
            "mdtrt_cert_type": cert_type,
            "mdtrt_cert_no": cert_no,
            "med_type": "41",
            "insutype": "390",
            "acct_used_flag": "1",
            **data,
        },
        "feedetail": list(lines or [line()]),
    }


def amounts(tree: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in AMOUNT_FIELDS:
                yield key, value
            yield from amounts(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from amounts(value)


def conserved(setlinfo: dict[str, str]) -> bool:
    from gongji import Fen

    parts = ("fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
    return Fen.from_yuan(setlinfo["medfee_sumamt"]) == sum(
        Fen.from_yuan(setlinfo[p]) for p in parts
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def centre(clock: Clock) -> Iterator[Centre]:
    centre = Centre(demo_dataset(), clock=clock)
    yield centre
    assert centre.ledger.check() == []


@pytest.fixture
def endpoint(centre: Centre) -> NationalEndpoint:
    # The raw tests below speak the extension dialect too (X101, gongji_* fields).
    return NationalEndpoint(centre, secrets_by_paasid={PAASID: SECRET}, extensions=True)


@pytest.fixture
def signer(clock: Clock) -> TifSigner:
    return TifSigner(PAASID, SECRET, clock=lambda: clock.now.timestamp())


@pytest.fixture
def client(endpoint: NationalEndpoint, connect: Connect) -> Iterator[httpx.Client]:
    with connect(endpoint, base_url="http://centre.test") as client:
        yield client


@pytest.fixture
def pos(client: httpx.Client, signer: TifSigner) -> Pos:
    pos = Pos(client, signer)
    pos.sign_in()
    return pos


# ---------------------------------------------------------------- gateway and sign-in


def test_every_call_after_sign_in_needs_a_valid_sign_no(
    client: httpx.Client, signer: TifSigner
) -> None:
    pos = Pos(client, signer)
    refused = pos.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": SON}})
    assert refused["infcode"] == -1
    assert "9001" in refused["err_msg"]
    pos.sign_no = "forged-sign-no"
    assert (
        pos.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": SON}})["infcode"] == -1
    )
    sign_no = pos.sign_in()
    assert sign_no and pos.psn_no(SON)


def test_signed_out_sign_no_is_refused(pos: Pos) -> None:
    output = pos.ok("9002", {"signOut": {"sign_no": pos.sign_no, "opter_no": "0001"}})
    assert output["signoutoutb"]["sign_time"] == "2026-11-23 09:00:00"
    assert (
        pos.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": SON}})["infcode"] == -1
    )


def test_bad_tif_signature_is_401_and_nothing_is_processed(pos: Pos, centre: Centre) -> None:
    body = pos.envelope("2102", settle_input(pos.psn_no(MOTHER), MOTHER))
    headers = pos.signer.headers()
    headers["x-tif-signature"] = "0" * 64
    response = pos.post(body, headers)
    assert response.status_code == 401
    refusal = response.json()
    assert refusal["infcode"] == -1
    assert "签名" in refusal["err_msg"] and "Nothing was processed" in refusal["err_msg"]
    assert centre.ledger.transactions == ()
    # The msgid was not consumed: the same message, properly signed, now settles.
    assert pos.post(body).json()["infcode"] == 0


def test_expired_tif_timestamp_is_refused_before_reading_the_body(pos: Pos, centre: Centre) -> None:
    stale = pos.signer.headers(timestamp=int(NOW.timestamp()) - 3600)
    response = pos.post(b"not even json", stale)
    assert response.status_code == 401
    assert "window" in response.json()["err_msg"]


def test_replayed_tif_nonce_is_refused(pos: Pos) -> None:
    headers = pos.signer.headers()
    body = pos.envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": SON}})
    assert pos.post(body, headers).status_code == 200
    assert pos.post(body, headers).status_code == 401


def test_unknown_fields_are_tolerated_in_envelope_and_input(pos: Pos) -> None:
    body = pos.envelope(
        "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": SON, "begntime": ""}}
    )
    body["vendor_extra"] = {"anything": 1}
    assert pos.post(body).json()["infcode"] == 0


def test_unknown_path_is_404(client: httpx.Client, signer: TifSigner) -> None:
    response = client.post("/fsi/api/other", content=b"{}", headers=signer.headers())
    assert response.status_code == 404
    assert response.json()["infcode"] == -1


# ---------------------------------------------------------------- 1101 and the X101 extension


def test_1101_resolves_all_three_credential_kinds_to_the_same_person(
    pos: Pos, centre: Centre
) -> None:
    card = card_of(centre.person(IdNumber(SON)))
    queries = [
        {"mdtrt_cert_type": "01", "mdtrt_cert_no": "demo-token-zhangwei"},
        {"mdtrt_cert_type": "02", "mdtrt_cert_no": SON},
        {"mdtrt_cert_type": "03", "mdtrt_cert_no": card.value, "card_sn": card.card_sn},
    ]
    answers = [pos.ok("1101", {"data": q}) for q in queries]
    assert all(a == answers[0] for a in answers)
    base, (insu,) = answers[0]["baseinfo"], answers[0]["insuinfo"]
    assert base["certno"] == SON and base["psn_cert_type"] == "01"
    assert base["psn_name"] == "张伟" and base["gend"] == "1" and base["brdy"] == "1985-03-17"
    assert base["age"] == "41.0"
    assert insu == {
        "balc": "5000.00",
        "insutype": "310",
        "psn_insu_stas": "1",
        "insuplc_admdvs": "210200",  # the pooling region of 210202
    }


def test_1101_resident_without_account_reports_zero_balance(pos: Pos) -> None:
    output = pos.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": MOTHER}})
    assert output["baseinfo"]["gend"] == "2"
    assert output["insuinfo"][0]["insutype"] == "390" and output["insuinfo"][0]["balc"] == "0.00"


def test_social_card_without_card_sn_is_refused(pos: Pos) -> None:
    answer = pos.call("1101", {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": SON}})
    assert answer["infcode"] == -1 and "card_sn" in answer["err_msg"]


def test_a_social_card_is_its_card_number_not_the_holders_id_number(
    pos: Pos, centre: Centre
) -> None:
    card = card_of(centre.person(IdNumber(SON)))
    by_id = {"mdtrt_cert_type": "03", "mdtrt_cert_no": SON, "card_sn": card.card_sn}
    assert "card number" in pos.call("1101", {"data": by_id})["err_msg"]
    wrong_sn = {"mdtrt_cert_type": "03", "mdtrt_cert_no": card.value, "card_sn": "0" * 32}
    assert "card_sn" in pos.call("1101", {"data": wrong_sn})["err_msg"]


def test_an_e_voucher_qr_text_sent_as_the_token_is_refused_by_name(
    pos: Pos, centre: Centre
) -> None:
    scanned = qr_text(centre.issue_e_voucher(MOTHER))
    answer = pos.call("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": scanned}})
    assert answer["infcode"] == -1 and "not its ecToken" in answer["err_msg"]


def test_psn_no_is_stable_opaque_and_not_the_id_number(
    pos: Pos, endpoint: NationalEndpoint
) -> None:
    psn_no = pos.psn_no(SON)
    assert psn_no == pos.psn_no(SON) == endpoint.psn_no(SON)
    assert SON not in psn_no and SON[6:14] not in psn_no
    other = NationalEndpoint(endpoint.centre, secrets_by_paasid={})
    assert other.psn_no(SON) == psn_no  # the same dataset and key give the same numbers
    assert len({endpoint.psn_no(p) for p in endpoint.centre.dataset.people}) == len(
        endpoint.centre.dataset.people
    )


def test_x101_extension_lists_the_beneficiarys_bindings(pos: Pos) -> None:
    output = pos.ok("X101", {"data": {"psn_no": pos.psn_no(MOTHER)}})
    son, sister = sorted(output["gongji_bindings"], key=lambda b: b["priority"])
    assert son["certno"] == SON and son["psn_no"] == pos.psn_no(SON)
    assert (son["relation"], son["status"], son["per_transaction_limit"]) == (
        "parent",
        "active",
        "400.00",
    )
    assert (son["insutype"], son["psn_insu_stas"], son["insuplc_admdvs"], son["balc"]) == (
        "310",
        "1",
        "210200",
        "5000.00",
    )
    assert sister["certno"] == SISTER and sister["per_transaction_limit"] is None
    assert sister["insuplc_admdvs"] == "210500"


def test_x101_shows_pending_bindings_with_their_status(pos: Pos) -> None:
    output = pos.ok("X101", {"data": {"psn_no": pos.psn_no(DAUGHTER)}})
    assert {(b["certno"], b["status"]) for b in output["gongji_bindings"]} == {
        (SON, "active"),
        (WIFE, "pending"),
    }


# ---------------------------------------------------------------- pharmacy 2101 / 2102 / 2103


def test_2101_pre_settlement_charges_nothing(pos: Pos, centre: Centre) -> None:
    output = pos.ok("2101", settle_input(pos.psn_no(MOTHER), MOTHER))
    assert output["setlinfo"]["setl_id"] == ""
    assert conserved(output["setlinfo"])
    assert centre.ledger.transactions == ()


def test_amounts_on_the_wire_are_two_decimal_yuan_strings(pos: Pos) -> None:
    output = pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("33.30", 3)))
    found = dict(amounts(output))
    assert {"medfee_sumamt", "acct_mulaid_pay", "psn_cash_pay", "balc", "amount"} <= set(found)
    for name, value in amounts(output):
        assert isinstance(value, str) and YUAN.fullmatch(value), (name, value)
    assert output["setlinfo"]["medfee_sumamt"] == "99.90"


def test_2102_mutual_aid_settles_conserves_money_and_debits_the_owner(
    pos: Pos, centre: Centre
) -> None:
    from gongji import Fen

    output = pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("120.00")))
    setlinfo = output["setlinfo"]
    assert setlinfo["setl_id"] and conserved(setlinfo)
    assert setlinfo["psn_no"] == pos.psn_no(MOTHER) and setlinfo["acct_pay"] == "0.00"
    (aid,) = output["gongji_mulaid_detail"]
    assert aid["psn_no"] == pos.psn_no(SON) and aid["relation"] == "parent"
    assert aid["amount"] == setlinfo["acct_mulaid_pay"] != "0.00"
    assert centre.ledger.balance(IdNumber(SON)) == Fen(500_000) - Fen.from_yuan(aid["amount"])
    transaction = centre.ledger.settlement(setlinfo["setl_id"])
    assert transaction is not None and transaction.paid_by(FUND) == Fen.from_yuan(
        setlinfo["fund_pay_sumamt"]
    )


def test_amounts_as_json_numbers_are_read_exactly_and_fractions_of_a_fen_refused(
    pos: Pos, centre: Centre
) -> None:
    output = pos.ok("2101", settle_input(pos.psn_no(MOTHER), MOTHER, line(12.5, 2)))
    assert output["setlinfo"]["medfee_sumamt"] == "25.00"
    refused = pos.call("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("12.345")))
    assert refused["infcode"] == -1 and "fen" in refused["err_msg"]
    assert centre.ledger.transactions == ()


def test_line_sum_that_is_not_price_times_count_is_refused(pos: Pos, centre: Centre) -> None:
    bad = line("10.00", 2, det_item_fee_sumamt="15.00")
    assert pos.call("2102", settle_input(pos.psn_no(MOTHER), MOTHER, bad))["infcode"] == -1
    total = settle_input(pos.psn_no(MOTHER), MOTHER, line("10.00"), medfee_sumamt="1.00")
    assert pos.call("2102", total)["infcode"] == -1
    assert centre.ledger.transactions == ()


def test_2103_cancel_restores_the_owners_balance_and_is_idempotent(
    pos: Pos, centre: Centre
) -> None:
    from gongji import Fen

    settled = pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER))["setlinfo"]
    cancel = {
        "data": {
            "setl_id": settled["setl_id"],
            "psn_no": settled["psn_no"],
            "mdtrt_id": settled["mdtrt_id"],
        }
    }
    first = pos.ok("2103", cancel)
    assert first["setlinfo"]["medfee_sumamt"] == "-" + settled["medfee_sumamt"]
    assert centre.ledger.balance(IdNumber(SON)) == Fen(500_000)
    again = pos.ok("2103", cancel)  # a new msgid: the centre cancels once
    assert again["setlinfo"]["medfee_sumamt"] == first["setlinfo"]["medfee_sumamt"]
    assert [t.kind for t in centre.ledger.transactions] == ["settle", "reverse"]


def test_2103_refuses_another_persons_psn_no(pos: Pos, centre: Centre) -> None:
    settled = pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER))["setlinfo"]
    answer = pos.call("2103", {"data": {"setl_id": settled["setl_id"], "psn_no": pos.psn_no(SON)}})
    assert answer["infcode"] == -1
    assert not centre.is_cancelled(settled["setl_id"])


# ---------------------------------------------------------------- idempotency per msgid


def test_same_msgid_same_content_returns_the_first_response_and_charges_once(
    pos: Pos, centre: Centre
) -> None:
    body = pos.envelope("2102", settle_input(pos.psn_no(MOTHER), MOTHER))
    first = pos.post(body)
    body["inf_time"] = "2026-11-23 09:00:05"  # a re-stamped retry is still the same message
    again = pos.post(body)
    assert again.content == first.content
    assert len(centre.ledger.transactions) == 1


def test_same_msgid_with_different_content_is_refused(pos: Pos, centre: Centre) -> None:
    msgid = pos.msgid()
    pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER), msgid=msgid)
    answer = pos.call("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("5.00")), msgid=msgid)
    assert answer["infcode"] == -1
    assert "different message" in answer["err_msg"] and "报文ID重复" in answer["err_msg"]
    assert len(centre.ledger.transactions) == 1


def test_a_message_refused_as_unreadable_leaves_its_msgid_free(pos: Pos) -> None:
    msgid = pos.msgid()
    assert pos.call("2102", {"data": {"psn_no": "x"}}, msgid=msgid)["infcode"] == -1
    assert pos.call("2102", settle_input(pos.psn_no(MOTHER), MOTHER), msgid=msgid)["infcode"] == 0


# ---------------------------------------------------------------- 2601 reversal


def test_2601_reverses_a_settlement_once_whatever_the_retries(pos: Pos, centre: Centre) -> None:
    from gongji import Fen

    msgid = pos.msgid()
    settled = pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER), msgid=msgid)["setlinfo"]
    reversal = {"data": {"psn_no": settled["psn_no"], "omsgid": msgid, "oinfno": "2102"}}
    first = pos.ok("2601", reversal)
    second = pos.ok("2601", reversal)
    assert first == second
    assert first["gongji_reversal"]["state"] == "reversed"
    assert first["gongji_reversal"]["setl_id"] == settled["setl_id"]
    assert centre.ledger.balance(IdNumber(SON)) == Fen(500_000)
    assert [t.kind for t in centre.ledger.transactions] == ["settle", "reverse"]
    # The reversed original, re-sent, is refused rather than replayed as settled.
    assert pos.call("2102", settle_input(pos.psn_no(MOTHER), MOTHER), msgid=msgid)["infcode"] == -1


def test_2601_of_a_settlement_that_never_arrived_refuses_its_late_arrival(
    pos: Pos, centre: Centre
) -> None:
    lost = pos.msgid()
    output = pos.ok(
        "2601", {"data": {"psn_no": pos.psn_no(MOTHER), "omsgid": lost, "oinfno": "2102"}}
    )
    assert output["gongji_reversal"]["state"] == "original_not_received"
    late = pos.call("2102", settle_input(pos.psn_no(MOTHER), MOTHER), msgid=lost)
    assert late["infcode"] == -1 and "冲正" in late["err_msg"]
    assert centre.ledger.transactions == ()


def test_2601_refuses_codes_it_cannot_reverse_and_mismatched_originals(pos: Pos) -> None:
    msgid = pos.msgid()
    pos.ok("2101", settle_input(pos.psn_no(MOTHER), MOTHER), msgid=msgid)
    assert pos.call("2601", {"data": {"omsgid": msgid, "oinfno": "2101"}})["infcode"] == -1
    assert pos.call("2601", {"data": {"omsgid": msgid, "oinfno": "2102"}})["infcode"] == -1


# ---------------------------------------------------------------- the centre's authority over raw clients


def test_r1_raw_client_cannot_settle_the_mother_with_the_sons_token(
    pos: Pos, centre: Centre
) -> None:
    answer = pos.call(
        "2102",
        settle_input(pos.psn_no(MOTHER), "demo-token-zhangwei", cert_type="01"),
    )
    assert answer["infcode"] == -1
    assert "冒名" in answer["err_msg"]
    assert centre.ledger.transactions == ()


@pytest.fixture
def till_without_r1(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The till's environment switches R1 off: the process-wide plugin manager blocks it."""
    monkeypatch.setenv("GONGJI_DISABLE_PLUGINS", "gongji.rules.R1")
    get_plugin_manager.cache_clear()
    assert get_plugin_manager().is_blocked("gongji.rules.R1")
    yield
    monkeypatch.delenv("GONGJI_DISABLE_PLUGINS")
    get_plugin_manager.cache_clear()


@pytest.mark.parametrize("infno", ["2101", "2102"])
def test_r1_switched_off_at_the_till_still_refused_by_the_centre(
    till_without_r1: None, client: httpx.Client, signer: TifSigner, infno: str
) -> None:
    mock = MockGateway.demo()  # made under the till's environment, too
    pos = Pos(client, signer)
    pos.sign_in()
    answer = pos.call(infno, settle_input(pos.psn_no(MOTHER), SON))  # the son's ID card
    assert answer["infcode"] == -1 and "冒名" in answer["err_msg"]
    stolen = Purchase(credential=Credential.id_card(SON), patient_id=MOTHER, items=[drug(9_000)])
    with pytest.raises(CentreRefusal) as refused:
        mock.centre.settle(stolen, msgid="M1")
    assert refused.value.rule == "R1" and mock.centre.ledger.transactions == ()
    assert not mock.centre.rules.is_blocked("gongji.rules.R1")


def test_r8_raw_client_cannot_exceed_the_per_transaction_limit(pos: Pos) -> None:
    output = pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("1200.00")))
    by_owner = {aid["psn_no"]: aid["amount"] for aid in output["gongji_mulaid_detail"]}
    assert by_owner[pos.psn_no(SON)] == "400.00"
    assert conserved(output["setlinfo"])


def test_r8_raw_client_cannot_overdraw_an_account(pos: Pos, centre: Centre) -> None:
    for _ in range(15):
        assert conserved(
            pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("700.00")))["setlinfo"]
        )
    assert centre.ledger.balance(IdNumber(SISTER)) == 0
    assert centre.ledger.balance(IdNumber(SON)) >= 0


def test_r5_pending_binding_does_not_pay_and_is_reported(pos: Pos) -> None:
    output = pos.ok("2102", settle_input(pos.psn_no(DAUGHTER), DAUGHTER))
    assert {aid["psn_no"] for aid in output["gongji_mulaid_detail"]} == {pos.psn_no(SON)}
    refusals = {(r["rule"], r["psn_no"]) for r in output["gongji_refusals"]}
    assert ("R5", pos.psn_no(WIFE)) in refusals


def test_a_used_e_voucher_token_cannot_be_replayed(pos: Pos, centre: Centre) -> None:
    token = centre.issue_e_voucher(MOTHER)
    pos.ok("2102", settle_input(pos.psn_no(MOTHER), token, cert_type="01"))
    replay = pos.call("2102", settle_input(pos.psn_no(MOTHER), token, cert_type="01"))
    assert replay["infcode"] == -1 and "已使用" in replay["err_msg"]
    assert len(centre.ledger.transactions) == 1


# ---------------------------------------------------------------- outpatient 2201-2208


def diagnosis(psn_no: str, mdtrt_id: str) -> dict[str, Any]:
    return {
        "mdtrtinfo": {
            "mdtrt_id": mdtrt_id,
            "psn_no": psn_no,
            "med_type": "11",
            "begntime": f"{NOW:%Y-%m-%d %H:%M:%S}",
        },
        "diseinfo": [
            {"diag_type": "1", "diag_srt_no": 1, "diag_code": "I10.x00", "diag_name": "高血压"}
        ],
    }


def registered(pos: Pos, patient: str = MOTHER, *, diagnosed: bool = True) -> tuple[str, str]:
    """(psn_no, mdtrt_id) of a visit registered at the mock, diagnosed unless asked not."""
    psn_no = pos.psn_no(patient)
    cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": patient}
    data = {"psn_no": psn_no, **cert, "ipt_otp_no": "OP1"}
    mdtrt_id = str(pos.ok("2201", {"data": data})["data"]["mdtrt_id"])
    if diagnosed:
        pos.ok("2203", diagnosis(psn_no, mdtrt_id))
    return psn_no, mdtrt_id


def fees(psn_no: str, mdtrt_id: str, batch: str, *numbers: str) -> dict[str, Any]:
    at = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": batch}
    return {"feedetail": [line("30.00", 2, feedetl_sn=n, **at) for n in numbers]}


def visit_settlement(psn_no: str, mdtrt_id: str, batch: str, total: str) -> dict[str, Any]:
    cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": MOTHER}
    return {
        "data": {
            "psn_no": psn_no,
            **cert,
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": batch,
            "medfee_sumamt": total,
        }
    }


def test_outpatient_visit_registers_uploads_settles_and_cancels(pos: Pos, centre: Centre) -> None:
    psn_no, mdtrt_id = registered(pos)
    at = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1"}
    lines = [line("30.00", 2, feedetl_sn="1", **at), line("15.50", 1, "02", feedetl_sn="2", **at)]
    result = pos.ok("2204", {"feedetail": lines})["result"]
    assert [r["det_item_fee_sumamt"] for r in result] == ["60.00", "15.50"]
    visit = visit_settlement(psn_no, mdtrt_id, "B1", "75.50")
    pre = pos.ok("2206", visit)["setlinfo"]
    settled = pos.ok("2207", visit)["setlinfo"]
    assert pre["medfee_sumamt"] == settled["medfee_sumamt"] == "75.50"
    assert settled["mdtrt_id"] == mdtrt_id and conserved(settled)
    assert pos.call("2207", visit)["infcode"] == -1  # a visit settles once
    assert (
        pos.call("2103", {"data": {"setl_id": settled["setl_id"], "psn_no": psn_no}})["infcode"]
        == -1
    )
    pos.ok(
        "2208", {"data": {"setl_id": settled["setl_id"], "psn_no": psn_no, "mdtrt_id": mdtrt_id}}
    )
    assert centre.is_cancelled(settled["setl_id"])


def test_fee_lines_are_refused_before_the_visits_diagnosis(pos: Pos) -> None:
    psn_no, mdtrt_id = registered(pos, diagnosed=False)
    answer = pos.call("2204", fees(psn_no, mdtrt_id, "B1", "1"))
    assert answer["infcode"] == -1 and "2203" in answer["err_msg"]
    pos.ok("2203", diagnosis(psn_no, mdtrt_id))
    pos.ok("2204", fees(psn_no, mdtrt_id, "B1", "1"))


def test_a_withdrawn_batch_is_not_settled_and_its_numbers_are_not_used_again(
    pos: Pos, centre: Centre
) -> None:
    psn_no, mdtrt_id = registered(pos)
    pos.ok("2204", fees(psn_no, mdtrt_id, "B1", "1", "2"))
    pos.ok("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "psn_no": psn_no}})
    refused = pos.call("2207", visit_settlement(psn_no, mdtrt_id, "B1", "120.00"))
    assert refused["infcode"] == -1 and "收费批次号" in refused["err_msg"]
    again = pos.call("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "psn_no": psn_no}})
    assert again["infcode"] == -1 and "没有可撤销" in again["err_msg"]
    reused = pos.call("2204", fees(psn_no, mdtrt_id, "B2", "2"))
    assert reused["infcode"] == -1 and "重复" in reused["err_msg"]
    pos.ok("2204", fees(psn_no, mdtrt_id, "B2", "3"))
    settled = pos.ok("2207", visit_settlement(psn_no, mdtrt_id, "B2", "60.00"))["setlinfo"]
    assert settled["medfee_sumamt"] == "60.00"
    assert not centre.ledger.check()


def test_0000_withdraws_every_unsettled_line_and_a_settled_visit_none(pos: Pos) -> None:
    psn_no, mdtrt_id = registered(pos)
    pos.ok("2204", fees(psn_no, mdtrt_id, "B1", "1"))
    pos.ok("2204", fees(psn_no, mdtrt_id, "B2", "2"))
    every = {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "psn_no": psn_no}}
    pos.ok("2205", every)
    assert pos.call("2207", visit_settlement(psn_no, mdtrt_id, "B2", "60.00"))["infcode"] == -1
    pos.ok("2204", fees(psn_no, mdtrt_id, "B3", "3"))
    pos.ok("2207", visit_settlement(psn_no, mdtrt_id, "B3", "60.00"))
    settled = pos.call("2205", every)
    assert settled["infcode"] == -1 and "已结算" in settled["err_msg"]


def test_a_cancelled_registration_takes_nothing_more_and_a_settled_one_is_not_cancelled(
    pos: Pos,
) -> None:
    psn_no, mdtrt_id = registered(pos)
    cancel = {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "ipt_otp_no": "OP1"}}
    wrong_number = pos.call("2202", {"data": {**cancel["data"], "ipt_otp_no": "OP2"}})
    assert wrong_number["infcode"] == -1 and "门诊号" in wrong_number["err_msg"]
    pos.ok("2202", cancel)
    for infno, payload in [
        ("2203", diagnosis(psn_no, mdtrt_id)),
        ("2204", fees(psn_no, mdtrt_id, "B1", "1")),
        ("2202", cancel),
    ]:
        answer = pos.call(infno, payload)
        assert answer["infcode"] == -1 and "撤销挂号" in answer["err_msg"], infno

    psn_no, settled_id = registered(pos)
    pos.ok("2204", fees(psn_no, settled_id, "B1", "1"))
    pos.ok("2207", visit_settlement(psn_no, settled_id, "B1", "60.00"))
    answer = pos.call(
        "2202", {"data": {"psn_no": psn_no, "mdtrt_id": settled_id, "ipt_otp_no": "OP1"}}
    )
    assert answer["infcode"] == -1 and "2208" in answer["err_msg"]


@pytest.mark.parametrize("infno", ["2206", "2207"])
def test_an_outpatient_settlement_without_a_registered_visit_is_refused(
    pos: Pos, centre: Centre, infno: str
) -> None:
    answer = pos.call(infno, settle_input(pos.psn_no(MOTHER), MOTHER, line("30.00")))
    assert answer["infcode"] == -1 and "2201" in answer["err_msg"]
    assert not centre.ledger.transactions


def test_r1_registration_with_someone_elses_credential_is_refused(pos: Pos) -> None:
    answer = pos.call(
        "2201",
        {"data": {"psn_no": pos.psn_no(MOTHER), "mdtrt_cert_type": "02", "mdtrt_cert_no": SON}},
    )
    assert answer["infcode"] == -1 and "冒名" in answer["err_msg"]


# ---------------------------------------------------------------- 3201 / 3202 / 9101 / 9102 reconciliation


DAY = {"stmt_begndate": "2026-11-23", "stmt_enddate": "2026-11-23"}


def totals_of(setlinfos: list[dict[str, str]], **group: str) -> dict[str, Any]:
    from gongji import Fen

    def total(name: str) -> str:
        return sum((Fen.from_yuan(s[name]) for s in setlinfos), Fen(0)).to_yuan()

    return {
        "data": {
            "insutype": "390",
            "clr_type": "41",
            "setl_optins": "210200",
            **DAY,
            "medfee_sumamt": total("medfee_sumamt"),
            "fund_pay_sumamt": total("fund_pay_sumamt"),
            "acct_pay": total("acct_pay"),
            "fixmedins_setl_cnt": len(setlinfos),
            **group,
        }
    }


def file_line(setlinfo: dict[str, str], **changed: str) -> str:
    fields = {
        "setl_id": setlinfo["setl_id"],
        "mdtrt_id": setlinfo["mdtrt_id"],
        "psn_no": setlinfo["psn_no"],
        "medfee_sumamt": setlinfo["medfee_sumamt"],
        "fund_pay_sumamt": setlinfo["fund_pay_sumamt"],
        "acct_pay": setlinfo["acct_pay"],
        "refd_setl_flag": "0",
    } | changed
    return "\t".join(fields.values()) + "\n"


def zipped(text: str) -> bytes:
    import io
    import zipfile

    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("details.txt", text.encode())
    return packed.getvalue()


def upload(pos: Pos, content: bytes, *, as_array: bool = False) -> str:
    import base64

    carried: Any = list(content) if as_array else base64.b64encode(content).decode()
    fs = {"in": carried, "filename": "details.txt.zip", "fixmedins_code": PHARMACY}
    output = pos.ok("9101", {"fsUploadIn": fs})
    assert set(output) == {"file_qury_no", "filename", "fixmedins_code", "dld_endtime"}
    return str(output["file_qury_no"])


def details(pos: Pos, file_qury_no: str, lines: list[str]) -> dict[str, Any]:
    from gongji import Fen

    rows = [line.rstrip("\n").split("\t") for line in lines]
    return {
        "data": {
            "setl_optins": "210200",
            "file_qury_no": file_qury_no,
            **DAY,
            "medfee_sumamt": sum((Fen.from_yuan(r[3]) for r in rows), Fen(0)).to_yuan(),
            "fund_pay_sumamt": sum((Fen.from_yuan(r[4]) for r in rows), Fen(0)).to_yuan(),
            "cash_payamt": "0.00",
            "fixmedins_setl_cnt": len(rows),
        }
    }


def result_lines(pos: Pos, fileinfo: dict[str, str]) -> list[list[str]]:
    import io
    import zipfile

    down = {"fsDownloadIn": {**fileinfo, "fixmedins_code": PHARMACY}}
    down["fsDownloadIn"].pop("dld_endtime")
    response = pos.post(pos.envelope("9102", down))
    assert response.status_code == 200 and response.content.startswith(b"PK")  # not an envelope
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        [member] = archive.namelist()
        text = archive.read(member).decode()
    return [row.split("\t") for row in text.splitlines()]


def test_3201_judges_one_clearing_groups_totals_against_the_ledger(
    pos: Pos, centre: Centre
) -> None:
    mother, daughter = pos.psn_no(MOTHER), pos.psn_no(DAUGHTER)
    residents = [
        pos.ok("2102", settle_input(mother, MOTHER, line("120.00")))["setlinfo"],
        pos.ok("2102", settle_input(daughter, DAUGHTER, line("88.80")))["setlinfo"],
    ]
    cancelled = pos.ok("2102", settle_input(mother, MOTHER, line("10.00")))["setlinfo"]
    pos.ok(
        "2103",
        {
            "data": {
                "setl_id": cancelled["setl_id"],
                "psn_no": mother,
                "mdtrt_id": cancelled["mdtrt_id"],
            }
        },
    )
    employee = pos.ok("2102", settle_input(pos.psn_no(SON), SON, line("50.00"), insutype="310"))
    assert [s["clr_optins"] for s in residents] == ["210200", "210200"]
    assert {s["insutype"] for s in residents} == {"390"} and employee["setlinfo"][
        "insutype"
    ] == "310"

    answer = pos.ok("3201", totals_of(residents))
    assert answer == {
        "stmtinfo": {
            "setl_optins": "210200",
            "stmt_rslt": "0",
            "stmt_rslt_dscr": "对账一致 / The totals agree.",
        }
    }  # a verdict only: no totals of the centre's own, no gongji_ field
    assert (
        pos.ok("3201", totals_of([employee["setlinfo"]], insutype="310"))["stmtinfo"]["stmt_rslt"]
        == "0"
    )
    # The cancelled settlement does not stand; another group's does not count here.
    for wrong in (
        totals_of([*residents, cancelled]),
        totals_of([*residents, employee["setlinfo"]]),
        totals_of(residents, acct_pay="1.00"),
        totals_of(residents, clr_type="11"),
        totals_of(residents, setl_optins="210500"),
    ):
        assert pos.ok("3201", wrong)["stmtinfo"]["stmt_rslt"] == "1"


def test_3202_compares_the_uploaded_file_and_9102_hands_back_each_difference(
    pos: Pos, centre: Centre
) -> None:
    mother, daughter = pos.psn_no(MOTHER), pos.psn_no(DAUGHTER)
    alike = pos.ok("2102", settle_input(mother, MOTHER, line("120.00")))["setlinfo"]
    changed = pos.ok("2102", settle_input(daughter, DAUGHTER, line("88.80")))["setlinfo"]
    cancelled = pos.ok("2102", settle_input(mother, MOTHER, line("10.00")))["setlinfo"]
    pos.ok(
        "2103",
        {
            "data": {
                "setl_id": cancelled["setl_id"],
                "psn_no": mother,
                "mdtrt_id": cancelled["mdtrt_id"],
            }
        },
    )
    missing = pos.ok("2102", settle_input(mother, MOTHER, line("30.00")))["setlinfo"]
    lines = [
        file_line(alike),
        file_line(changed, medfee_sumamt="88.81", fund_pay_sumamt=changed["fund_pay_sumamt"]),
        file_line(cancelled),
    ]
    file_qury_no = upload(pos, zipped("".join(lines)))
    fileinfo = pos.ok("3202", details(pos, file_qury_no, lines))["fileinfo"]
    assert set(fileinfo) == {"file_qury_no", "filename", "dld_endtime"}
    rows = {row[2]: row for row in result_lines(pos, fileinfo)}
    assert set(rows) == {changed["setl_id"], cancelled["setl_id"], missing["setl_id"]}
    # psn_no, mdtrt_id, setl_id, msgid, stmt_rslt, refd_setl_flag, memo, and the centre's amounts
    differing = rows[changed["setl_id"]]
    assert differing[:3] == [changed["psn_no"], changed["mdtrt_id"], changed["setl_id"]]
    assert differing[3] == changed["medins_setl_id"]  # the msgid that settled it
    assert differing[7:] == [
        changed["medfee_sumamt"],
        changed["fund_pay_sumamt"],
        changed["acct_pay"],
    ]
    assert "金额不符" in differing[6]
    assert rows[cancelled["setl_id"]][7:] == ["", "", ""]  # nothing standing at the centre
    assert rows[missing["setl_id"]][7] == missing["medfee_sumamt"]
    assert all(row[4] == "1" and len(row) == 10 for row in rows.values())


def test_9101_takes_the_file_as_base64_or_as_an_array_of_bytes(pos: Pos) -> None:
    settled = pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("20.00")))["setlinfo"]
    lines = [file_line(settled)]
    for as_array in (False, True):
        file_qury_no = upload(pos, "".join(lines).encode(), as_array=as_array)  # unzipped too
        fileinfo = pos.ok("3202", details(pos, file_qury_no, lines))["fileinfo"]
        assert result_lines(pos, fileinfo) == []


def test_reconciliation_messages_are_checked_as_national_md_has_them(pos: Pos) -> None:
    without_group = pos.call("3201", {"data": DAY})
    assert without_group["infcode"] == -1
    assert all(
        f"{name} (C 6) is required" in without_group["err_msg"]
        for name in ("insutype", "clr_type", "setl_optins")
    )
    extension = totals_of([])
    extension["data"]["gongji_totals"] = "1"
    assert "gongji_totals is gongji's own extension" in pos.call("3201", extension)["err_msg"]
    not_bytes = {
        "fsUploadIn": {"in": "not base64!", "filename": "f.txt", "fixmedins_code": PHARMACY}
    }
    assert "in must be bytes" in pos.call("9101", not_bytes)["err_msg"]


def test_3202_refuses_a_file_it_cannot_use_and_totals_that_are_not_the_files(pos: Pos) -> None:
    settled = pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("20.00")))["setlinfo"]
    lines = [file_line(settled)]
    file_qury_no = upload(pos, zipped("".join(lines)))
    wrong_sum = details(pos, file_qury_no, lines)
    wrong_sum["data"]["medfee_sumamt"] = "1.00"
    assert "汇总与明细文件不符" in pos.call("3202", wrong_sum)["err_msg"]
    unknown = details(pos, "FQ2026112399999999", lines)
    assert "文件查询号不存在" in pos.call("3202", unknown)["err_msg"]
    bad_file = upload(pos, b"only\ttwo\n")
    assert "明细文件格式错误" in pos.call("3202", details(pos, bad_file, []))["err_msg"]
    fileinfo = pos.ok("3202", details(pos, file_qury_no, lines))["fileinfo"]
    renamed = {
        "fsDownloadIn": {
            "file_qury_no": fileinfo["file_qury_no"],
            "filename": "other.zip",
            "fixmedins_code": PHARMACY,
        }
    }
    refused = pos.call("9102", renamed)
    assert refused["infcode"] == -1 and "文件名" in refused["err_msg"]  # a refusal is an envelope


def test_centre_looks_up_a_settlement_by_setl_id_cancelled_or_not(pos: Pos, centre: Centre) -> None:
    settled = pos.ok("2102", settle_input(pos.psn_no(MOTHER), MOTHER))["setlinfo"]
    found = centre.settlement(settled["setl_id"])
    assert found is not None and found.patient == MOTHER
    pos.ok("2103", {"data": {"setl_id": settled["setl_id"], "psn_no": settled["psn_no"]}})
    assert centre.settlement(settled["setl_id"]) == found
    assert centre.settlement("SETL-unknown") is None


def test_invariant_4_no_full_id_number_or_secret_in_an_error(pos: Pos) -> None:
    errors = [
        pos.call("2102", settle_input(SON, MOTHER))["err_msg"],  # an ID number sent as psn_no
        pos.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": SON[:-1] + "9"}})[
            "err_msg"
        ],
        pos.call("2102", settle_input(pos.psn_no(MOTHER), "demo-token-zhangwei", cert_type="01"))[
            "err_msg"
        ],
    ]
    bad = pos.signer.headers()
    bad["x-tif-signature"] = "f" * 64
    errors.append(pos.post(b"{}", bad).json()["err_msg"])
    for message in errors:
        assert message
        assert SON not in message and MOTHER not in message and SECRET not in message


def test_the_same_handler_serves_an_async_client(
    endpoint: NationalEndpoint, signer: TifSigner
) -> None:
    import asyncio

    async def sign_in() -> dict[str, Any]:
        transport = httpx.MockTransport(endpoint)
        async with httpx.AsyncClient(transport=transport, base_url="http://centre.test") as client:
            pos = Pos(httpx.Client(), signer)  # only for building the envelope
            body = pos.envelope("9001", {"signIn": {"opter_no": "0001"}})
            response = await client.post(PATH, json=body, headers=signer.headers())
            answer: dict[str, Any] = response.json()
            pos.client.close()
            return answer

    assert asyncio.run(sign_in())["output"]["signinoutb"]["sign_no"]


# ---------------------------------------------------------------- 5301 and med_type 14

FATHER = "210202195601010112"  # hypertension since 2023; diabetes until 2025-06-30


def test_5301_lists_every_registration_with_empty_dates_where_there_are_none(pos: Pos) -> None:
    output = pos.ok("5301", {"data": {"psn_no": pos.psn_no(FATHER)}})
    assert output == {
        "feedetail": [
            {
                "opsp_dise_code": "M03900",
                "opsp_dise_name": "高血压",
                "begndate": "2023-03-01",
                "enddate": "",
            },
            {
                "opsp_dise_code": "M01600",
                "opsp_dise_name": "糖尿病",
                "begndate": "2020-01-01",
                "enddate": "2025-06-30",
            },
        ]
    }
    assert pos.ok("5301", {"data": {"psn_no": pos.psn_no(SON)}}) == {"feedetail": []}
    refused = pos.call("5301", {"data": {"psn_no": "210200000000000000"}})
    assert refused["infcode"] == -1 and "人员编号" in refused["err_msg"]


@pytest.mark.parametrize(
    ("dise_codg", "settles"),
    [("M03900", True), ("M01600", False), ("M99999", False), ("", False)],
)
def test_a_med_type_14_settlement_needs_a_disease_registered_and_in_force(
    pos: Pos, centre: Centre, dise_codg: str, settles: bool
) -> None:
    chronic = {"med_type": "14", "insutype": "310", "dise_codg": dise_codg, "dise_name": "病"}
    answer = pos.call("2102", settle_input(pos.psn_no(FATHER), FATHER, **chronic))
    assert (answer["infcode"] == 0) is settles, answer["err_msg"]
    if settles:
        assert answer["output"]["setlinfo"]["med_type"] == "14"
    else:
        assert "门诊慢特病" in answer["err_msg"] and centre.ledger.transactions == ()
