"""The mock's WeChat Pay medical-insurance orders (POST /v3/med-ins/orders and its queries), with
the sensitive fields encrypted by the SDK (gongji.signing.wechatpay_medins) and answers and
callbacks verified by the SDK and, independently, by wechatpayv3."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import utils as peer

from gongji import Fen
from gongji.signing import PlatformKeyStore, encrypt_med_ins_fields
from gongji.signing.keys import RsaPrivateKey
from gongji.signing.wechatpay import WechatPayAuth, WechatPayNotifications
from gongji.signing.wechatpay_medins import SensitiveFields
from gongji_mock import MockGateway
from gongji_mock.wechatpay.endpoint import DEFAULT_APPID, WechatPayEndpoint
from gongji_mock.wechatpay.medins import ORDERS_PATH, SUCCESS_EVENT
from tests.mock.conftest import Connect

BASE = "https://api.mch.weixin.qq.com"
SON, SON_NAME = "210202198503170036", "张伟"
MOTHER, MOTHER_NAME = "210202195809120046", "王秀兰"
STRANGER = "110101199003074477"  # a valid resident ID the mock's centre does not insure
CALLBACK_URL = "https://pos.example/wechat/med-ins"


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture
def wx(mock: MockGateway) -> WechatPayEndpoint:
    return mock.wechatpay


@pytest.fixture
def client(mock: MockGateway, wx: WechatPayEndpoint, connect: Connect) -> Iterator[httpx.Client]:
    auth = WechatPayAuth(wx.merchant, wx.platform_keys())
    with connect(mock.handle, base_url=BASE, auth=auth) as signed:
        yield signed


def sealed(
    wx: WechatPayEndpoint,
    name: str = SON_NAME,
    number: str = SON,
    relative: tuple[str, str] | None = None,
    store: PlatformKeyStore | None = None,
) -> SensitiveFields:
    """Name and id_digest encrypted as the SDK does it, under the mock's platform key."""
    return encrypt_med_ins_fields(
        store or wx.platform_keys(),
        payer_name=name,
        payer_id=number,
        relative_name=relative[0] if relative else None,
        relative_id=relative[1] if relative else None,
    )


def person(fields: SensitiveFields, which: str = "payer") -> dict[str, str]:
    sealed_person = fields.payer if which == "payer" else fields.relative
    assert sealed_person is not None
    return {**sealed_person.as_wire(), "card_type": "ID_CARD"}


def order(out_trade_no: str, fields: SensitiveFields, **overrides: Any) -> dict[str, Any]:
    """A pharmacy CASH_AND_INSURANCE order of 100.00 yuan: fund 60, account 25, cash 15."""
    body: dict[str, Any] = {
        "mix_pay_type": "CASH_AND_INSURANCE",
        "order_type": "PHARMACY_PAY",
        "appid": DEFAULT_APPID,
        "openid": "oMockPatient000000000000001",
        "payer": person(fields),
        "pay_for_relatives": False,
        "out_trade_no": out_trade_no,
        "serial_no": "S2026112300001",
        "pay_order_id": "ORD210200202611230900000001",
        "pay_auth_no": "AUTH210200202611230900000001",
        "geo_location": "121.614682,38.914003",
        "city_id": "210200",
        "med_inst_name": "大连测试药房",
        "med_inst_no": "P21020200001",
        "med_ins_order_create_time": "2026-11-23T09:00:00+08:00",
        "total_fee": 10000,
        "med_ins_gov_fee": 6000,
        "med_ins_self_fee": 2500,
        "med_ins_other_fee": 0,
        "med_ins_cash_fee": 1500,
        "wechat_pay_cash_fee": 1500,
        "callback_url": CALLBACK_URL,
        "prepay_id": "wx2026112309000000000000000001",
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


def create(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post(ORDERS_PATH, json=body)


def by_out(client: httpx.Client, out_trade_no: str) -> httpx.Response:
    return client.get(f"/v3/med-ins/orders/out-trade-no/{out_trade_no}")


def by_mix(client: httpx.Client, mix_trade_no: str) -> httpx.Response:
    return client.get(f"/v3/med-ins/orders/mix-trade-no/{mix_trade_no}")


# ---------------------------------------------------------------- create and query


def test_med_ins_order_is_created_waiting_for_the_patient_and_answered_in_fen(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    answer = create(client, order("MI-0001", sealed(wx)))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["mix_trade_no"]) <= 32
    assert (body["mix_pay_status"], body["self_pay_status"], body["med_ins_pay_status"]) == (
        "MIX_PAY_CREATED",
        "SELF_PAY_CREATED",
        "MED_INS_PAY_CREATED",
    )
    assert [body[k] for k in ("total_fee", "med_ins_gov_fee", "wechat_pay_cash_fee")] == [
        10000,
        6000,
        1500,
    ]
    assert body["out_trade_no"] == "MI-0001"
    assert "paid_time" not in body
    assert wx.collected() == 0  # nothing is taken before the patient confirms


def test_sensitive_fields_never_come_back_in_an_answer(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    fields = sealed(wx)
    answer = create(client, order("MI-0002", fields))
    queried = by_out(client, "MI-0002")
    for text in (answer.text, queried.text):
        assert "payer" not in json.loads(text)
        assert SON_NAME not in text
        assert fields.payer.name not in text


def test_first_query_confirms_the_order_once_and_sends_one_success_callback(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    created = create(client, order("MI-0003", sealed(wx))).json()
    first = by_out(client, "MI-0003").json()
    again = by_mix(client, created["mix_trade_no"]).json()
    assert first["mix_pay_status"] == "MIX_PAY_SUCCESS"
    assert first["self_pay_status"] == "SELF_PAY_SUCCESS"
    assert first["med_ins_pay_status"] == "MED_INS_PAY_SUCCESS"
    assert first["paid_time"].endswith("+08:00")
    assert again == first
    assert wx.collected() == Fen(1500)
    [callback] = wx.notifications
    assert callback.url == CALLBACK_URL
    assert callback.event_type == SUCCESS_EVENT
    opened = WechatPayNotifications(wx.platform_keys(), wx.apiv3_key).open(
        callback.headers, callback.body
    )
    assert msgspec.json.decode(opened.plaintext, type=dict[str, Any]) == first


def test_success_callback_verifies_and_decrypts_with_wechatpayv3(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    created = create(client, order("MI-0004", sealed(wx))).json()
    assert wx.confirm_med_ins(created["mix_trade_no"]) == "MIX_PAY_SUCCESS"
    [callback] = wx.notifications
    headers = callback.headers
    assert peer.rsa_verify(
        headers["Wechatpay-Timestamp"],
        headers["Wechatpay-Nonce"],
        callback.body.decode(),
        headers["Wechatpay-Signature"],
        wx.platform_public_key.cryptography_key(),
    )
    resource = json.loads(callback.body)["resource"]
    plaintext = peer.aes_decrypt(
        resource["nonce"], resource["ciphertext"], resource["associated_data"], wx.apiv3_key
    )
    notice = json.loads(plaintext)
    assert notice["mix_trade_no"] == created["mix_trade_no"]
    assert notice["mix_pay_status"] == "MIX_PAY_SUCCESS"
    assert notice["total_fee"] == 10000


def test_abandoned_order_fails_charges_nothing_and_sends_no_callback(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    created = create(client, order("MI-0005", sealed(wx))).json()
    assert wx.confirm_med_ins(created["mix_trade_no"], paid=False) == "MIX_PAY_FAIL"
    queried = by_out(client, "MI-0005").json()
    assert (queried["mix_pay_status"], queried["self_pay_status"]) == (
        "MIX_PAY_FAIL",
        "SELF_PAY_FAIL",
    )
    assert queried["med_ins_pay_status"] == "MED_INS_PAY_FAIL"
    assert wx.confirm_med_ins(created["mix_trade_no"]) == "MIX_PAY_FAIL"  # final
    assert list(wx.notifications) == []
    assert wx.collected() == 0


def test_query_of_an_unknown_order_is_not_found(client: httpx.Client) -> None:
    for answer in (by_out(client, "NEVER-SENT"), by_mix(client, "2026112309000000000000000099")):
        assert answer.status_code == 404
        assert answer.json()["code"] == "ORDER_NOT_EXIST"


def test_insurance_only_order_has_no_self_pay_and_takes_no_cash(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    body = order(
        "MI-0006",
        sealed(wx),
        mix_pay_type="INSURANCE_ONLY",
        total_fee=8500,
        med_ins_cash_fee=0,
        wechat_pay_cash_fee=0,
        prepay_id=None,
    )
    assert create(client, body).status_code == 200
    queried = by_out(client, "MI-0006").json()
    assert queried["self_pay_status"] == "NO_SELF_PAY"
    assert queried["med_ins_pay_status"] == "MED_INS_PAY_SUCCESS"
    assert wx.collected() == 0


def test_cash_only_order_carries_its_cash_in_cash_add_detail(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    # The four med_ins_*_fee sum to 0, and wechat_pay_cash_fee = med_ins_cash_fee + additions.
    body = order(
        "MI-0007",
        sealed(wx),
        mix_pay_type="CASH_ONLY",
        total_fee=1200,
        med_ins_gov_fee=0,
        med_ins_self_fee=0,
        med_ins_other_fee=0,
        med_ins_cash_fee=0,
        wechat_pay_cash_fee=1200,
        cash_add_detail=[{"cash_add_fee": 1200, "cash_add_type": "DEFAULT_ADD_TYPE"}],
        pay_order_id=None,
        pay_auth_no=None,
        geo_location=None,
        med_ins_order_create_time=None,
    )
    answer = create(client, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["med_ins_pay_status"] == "NO_MED_INS_PAY"
    by_out(client, "MI-0007")
    assert wx.collected() == Fen(1200)


# ---------------------------------------------------------------- idempotency


def test_same_out_trade_no_same_content_encrypted_again_is_the_same_order(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    first_fields = sealed(wx)
    first = create(client, order("MI-0010", first_fields)).json()
    retry_fields = sealed(wx)  # RSA-OAEP: new ciphertext for the same name and digest
    assert retry_fields.payer.name != first_fields.payer.name
    again = create(client, order("MI-0010", retry_fields))
    assert again.status_code == 200
    assert again.json()["mix_trade_no"] == first["mix_trade_no"]
    assert len(wx.med_ins) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"total_fee": 10100, "med_ins_gov_fee": 6100},
        {"payer": "mother"},
        {"serial_no": "S2026112300002"},
    ],
)
def test_same_out_trade_no_other_content_is_refused_and_changes_nothing(
    client: httpx.Client, wx: WechatPayEndpoint, change: dict[str, Any]
) -> None:
    first = create(client, order("MI-0011", sealed(wx))).json()
    if change.get("payer") == "mother":
        change = {"payer": person(sealed(wx, MOTHER_NAME, MOTHER))}
    answer = create(client, order("MI-0011", sealed(wx), **change))
    assert answer.status_code == 400
    assert answer.json()["code"] == "ALREADY_EXISTS"
    assert first["mix_trade_no"] in answer.json()["message"]
    assert by_out(client, "MI-0011").json()["total_fee"] == 10000


# ---------------------------------------------------------------- the amount rules


def test_total_fee_must_be_the_sum_of_its_parts(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    answer = create(client, order("MI-0020", sealed(wx), total_fee=10001))
    assert answer.status_code == 403
    assert answer.json()["code"] == "RULE_LIMIT"
    assert "订单总金额校验不通过" in answer.json()["message"]
    assert by_out(client, "MI-0020").status_code == 404


def test_wechat_pay_cash_fee_must_be_the_cash_share_plus_additions_minus_reductions(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    answer = create(
        client,
        order("MI-0021", sealed(wx), med_ins_cash_fee=1400),  # the total still adds up
    )
    assert answer.status_code == 403
    assert "自费金额校验不通过" in answer.json()["message"]


def test_additions_and_reductions_enter_both_amount_rules(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    # cash 15.00 + freight 3.00 - pharmacy discount 5.00 = 13.00 paid in WeChat;
    # total 100.00 + 3.00 = 60 + 25 + 13 + 5.
    body = order(
        "MI-0022",
        sealed(wx),
        total_fee=10300,
        wechat_pay_cash_fee=1300,
        cash_add_detail=[{"cash_add_fee": 300, "cash_add_type": "FREIGHT"}],
        cash_reduce_detail=[{"cash_reduce_fee": 500, "cash_reduce_type": "PHARMACY_DISCOUNT"}],
    )
    answer = create(client, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["cash_reduce_detail"] == [
        {"cash_reduce_fee": 500, "cash_reduce_type": "PHARMACY_DISCOUNT"}
    ]
    by_out(client, "MI-0022")
    assert wx.collected() == Fen(1300)


@pytest.mark.parametrize("fee", [15.0, "1500", -1, 15.5])
def test_amounts_are_non_negative_integer_fen(
    client: httpx.Client, wx: WechatPayEndpoint, fee: object
) -> None:
    answer = create(client, order("MI-0023", sealed(wx), wechat_pay_cash_fee=fee))
    assert answer.status_code == 400
    assert answer.json()["code"] == "PARAM_ERROR"
    assert answer.json()["detail"]["field"] == "wechat_pay_cash_fee"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"mix_pay_type": "UNKNOWN_MIX_PAY_TYPE"}, "mix_pay_type"),
        ({"order_type": "UNKNOWN_ORDER_TYPE"}, "order_type"),
        ({"pay_auth_no": None}, "pay_auth_no"),
        ({"med_ins_order_create_time": None}, "med_ins_order_create_time"),
        ({"med_ins_other_fee": None}, "med_ins_other_fee"),
        ({"prepay_id": None}, "prepay_id"),
        ({"mix_pay_type": "INSURANCE_ONLY"}, "wechat_pay_cash_fee"),
        ({"mix_pay_type": "CASH_ONLY"}, "pay_order_id"),
        ({"med_ins_order_create_time": "2026-11-23 09:00:00"}, "med_ins_order_create_time"),
        ({"geo_location": "Dalian"}, "geo_location"),
        ({"callback_url": "https://pos.example/cb?order=1"}, "callback_url"),
        ({"callback_url": "pos.example/cb"}, "callback_url"),
        ({"serial_no": "S" * 21}, "serial_no"),
        ({"city_id": None}, "city_id"),
        (
            {"cash_add_detail": [{"cash_add_fee": 1, "cash_add_type": "TIP"}]},
            "cash_add_detail[0].cash_add_type",
        ),
    ],
)
def test_mix_pay_type_and_documented_forms_decide_what_is_accepted(
    client: httpx.Client, wx: WechatPayEndpoint, overrides: dict[str, Any], field: str
) -> None:
    answer = create(client, order("MI-0024", sealed(wx), **overrides))
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "PARAM_ERROR"
    assert answer.json()["detail"]["field"] == field
    assert len(wx.med_ins) == 0


# ---------------------------------------------------------------- the sensitive fields


def test_plaintext_name_is_refused_and_not_echoed(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    fields = sealed(wx)
    answer = create(client, order("MI-0030", fields, payer={**person(fields), "name": SON_NAME}))
    assert answer.status_code == 400
    assert answer.json()["detail"]["field"] == "payer.name"
    assert SON_NAME not in answer.text


def test_id_digest_must_be_the_md5_not_the_id_number(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    raw_id = base64.b64encode(wx.platform_public_key.encrypt_oaep_sha1(SON.encode())).decode()
    fields = sealed(wx)
    answer = create(client, order("MI-0031", fields, payer={**person(fields), "id_digest": raw_id}))
    assert answer.status_code == 400
    assert answer.json()["detail"]["field"] == "payer.id_digest"
    assert SON not in answer.text


def test_fields_encrypted_under_another_key_do_not_decrypt(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    other = RsaPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    store = PlatformKeyStore(public_keys={wx.platform_key_id: other.public_key})
    answer = create(client, order("MI-0032", sealed(wx, store=store)))
    assert answer.status_code == 400
    assert answer.json()["detail"]["field"] == "payer.name"
    assert "did not decrypt" in answer.json()["message"]


def test_payer_the_centre_does_not_insure_is_refused(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    answer = create(client, order("MI-0033", sealed(wx, SON_NAME, STRANGER)))
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_REQUEST"
    assert "nobody insured" in answer.json()["message"]


def test_payer_name_must_be_the_name_on_the_e_voucher(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    answer = create(client, order("MI-0034", sealed(wx, "张三", SON)))
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_REQUEST"
    assert "张三" not in answer.text


def test_paying_for_a_relative_needs_the_relative_and_checks_them(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    missing = create(client, order("MI-0035", sealed(wx), pay_for_relatives=True))
    assert missing.json()["detail"]["field"] == "relative"
    fields = sealed(wx, relative=(MOTHER_NAME, MOTHER))
    unflagged = create(client, order("MI-0035", fields, relative=person(fields, "relative")))
    assert unflagged.json()["detail"]["field"] == "relative"
    myself = sealed(wx, relative=(SON_NAME, SON))
    same = create(
        client,
        order("MI-0035", myself, pay_for_relatives=True, relative=person(myself, "relative")),
    )
    assert same.json()["code"] == "INVALID_REQUEST"
    paid = create(
        client,
        order("MI-0035", fields, pay_for_relatives=True, relative=person(fields, "relative")),
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["pay_for_relatives"] is True
    assert MOTHER_NAME not in paid.text


def test_order_without_wechatpay_serial_is_refused(
    mock: MockGateway, wx: WechatPayEndpoint
) -> None:
    content = json.dumps(order("MI-0036", sealed(wx)), ensure_ascii=False).encode()
    authorization = wx.merchant.authorization(
        "POST", ORDERS_PATH, content, timestamp=int(time.time()), nonce="N0SERIAL0001"
    )
    answer = mock.handle(
        httpx.Request(
            "POST",
            BASE + ORDERS_PATH,
            content=content,
            headers={"Authorization": authorization, "Content-Type": "application/json"},
        )
    )
    assert answer.status_code == 400
    assert answer.json()["detail"] == {
        "field": "Wechatpay-Serial",
        "location": "header",
        "issue": "missing",
    }


def test_order_naming_another_platform_key_is_refused(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    answer = client.post(
        ORDERS_PATH,
        json=order("MI-0037", sealed(wx)),
        headers={"Wechatpay-Serial": "PUB_KEY_ID_0100000000SOMEONEELSE01"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_REQUEST"
    assert len(wx.med_ins) == 0
