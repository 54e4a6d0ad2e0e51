"""Medical-insurance orders (``POST /v3/med-ins/orders``). The mock does not serve them yet, so
WeChat Pay is a respx fake and the examples are written from the public documentation:
WeChat Pay's 医保自费混合收款下单 (https://pay.weixin.qq.com/doc/v3/merchant/4016781466) as
published in the official ``wechatpay-apiv3/wechatpay-skills`` reference
(wechatpay-medical-insurance-payment/references/1-商户/示例代码/Go/1-下单/create_med_ins_order.go
for the request, .../开发参数与业务规则.md for the amount rules and mix_pay_type table,
.../Go/2-订单查询/query_by_out_trade_no.go for the query).
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gongji.errors import Declined, InvalidInput, Unavailable
from gongji.gateways import PaymentState
from gongji.money import Fen
from gongji.signing.keys import Certificate, RsaPrivateKey
from gongji.signing.wechatpay_keys import PlatformKeyStore
from gongji.signing.wechatpay_medins import id_digest
from gongji_wechatpay import (
    CashAdd,
    CashAddType,
    CashReduce,
    MedInsOrder,
    MixPayType,
    WechatPayChannel,
)
from tests.adapters.wechatpay.conftest import (
    APIV3_KEY,
    APPID,
    BASE,
    NOW,
    PLATFORM_KEY_ID,
    Signer,
    run_flow,
)
from tests.adapters.wechatpay.test_wire_shapes import assert_signed_by_merchant

ORDERS = BASE + "/v3/med-ins/orders"
OUT_TRADE_NO = "202204022005169952975171534816"
MIX_TRADE_NO = "1217752501201407033233368318"
PAYER = "210202198503170036"  # a valid resident ID (test value)
RELATIVE = "21020219580912002X"
BEIJING = datetime.timezone(datetime.timedelta(hours=8))


def documented_order(**changes: Any) -> MedInsOrder:
    """The documentation's example order: CASH_AND_INSURANCE, 2020.00 yuan in all."""
    fields: dict[str, Any] = {
        "out_trade_no": OUT_TRADE_NO,
        "mix_pay_type": MixPayType.CASH_AND_INSURANCE,
        "order_type": "REG_PAY",
        "openid": "o4GgauInH_RCEdvrrNGrntXDuXXX",
        "payer_name": "张三",
        "payer_id": PAYER,
        "serial_no": "1217752501201",
        "pay_order_id": "ORD530100202204022006350000021",
        "pay_auth_no": "AUTH530100202204022006310000034",
        "geo_location": "102.682296,25.054260",
        "city_id": "530100",
        "med_inst_name": "北大医院",
        "med_inst_no": "1217752501201407033233368318",
        "created_at": datetime.datetime(2015, 5, 20, 13, 29, 35, tzinfo=BEIJING),
        "total": Fen(202000),
        "fund": Fen(100000),
        "personal_account": Fen(45000),
        "other_fund": Fen(5000),
        "cash": Fen(50000),
        "cash_add": [CashAdd(Fen(2000), CashAddType.FREIGHT)],
        "cash_reduce": [CashReduce(Fen(10000))],
        "callback_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "prepay_id": "wx201410272009395522657a690389285100",
        "attach": "{}",
    }
    fields.update(changes)
    return MedInsOrder(**fields)


def order_entity(**changes: object) -> dict[str, object]:
    """The OrderEntity the order call and the queries answer (fields as documented)."""
    entity: dict[str, object] = {
        "mix_trade_no": MIX_TRADE_NO,
        "mix_pay_status": "MIX_PAY_CREATED",
        "self_pay_status": "SELF_PAY_CREATED",
        "med_ins_pay_status": "MED_INS_PAY_CREATED",
        "mix_pay_type": "CASH_AND_INSURANCE",
        "order_type": "REG_PAY",
        "appid": APPID,
        "openid": "o4GgauInH_RCEdvrrNGrntXDuXXX",
        "pay_for_relatives": False,
        "out_trade_no": OUT_TRADE_NO,
        "serial_no": "1217752501201",
        "city_id": "530100",
        "total_fee": 202000,
        "med_ins_gov_fee": 100000,
        "med_ins_self_fee": 45000,
        "med_ins_other_fee": 5000,
        "med_ins_cash_fee": 50000,
        "wechat_pay_cash_fee": 42000,
        "cash_add_detail": [{"cash_add_fee": 2000, "cash_add_type": "FREIGHT"}],
        "callback_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "prepay_id": "wx201410272009395522657a690389285100",
        "med_ins_test_env": False,
    }
    entity.update(changes)
    return entity


def decrypt(key: RsaPrivateKey, sealed: str) -> str:
    return key.decrypt_oaep_sha1(base64.b64decode(sealed)).decode()


def test_the_order_request_has_the_documented_shape_with_encrypted_identity(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    platform_key: RsaPrivateKey,
    merchant_key: RsaPrivateKey,
) -> None:
    route = router.post(ORDERS).mock(
        side_effect=lambda request: wechat.response(200, order_entity())
    )
    result = run_flow(fake_channel.med_ins_order(documented_order()), fake_client)

    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    # The serial of the key that encrypted the sensitive fields (the public key ID here).
    assert request.headers["Wechatpay-Serial"] == PLATFORM_KEY_ID
    assert_signed_by_merchant(request, merchant_key)
    body = json.loads(request.content)
    payer = body.pop("payer")
    assert body == {
        "mix_pay_type": "CASH_AND_INSURANCE",
        "order_type": "REG_PAY",
        "appid": APPID,
        "openid": "o4GgauInH_RCEdvrrNGrntXDuXXX",
        "pay_for_relatives": False,
        "out_trade_no": OUT_TRADE_NO,
        "serial_no": "1217752501201",
        "pay_order_id": "ORD530100202204022006350000021",
        "pay_auth_no": "AUTH530100202204022006310000034",
        "geo_location": "102.682296,25.054260",
        "city_id": "530100",
        "med_inst_name": "北大医院",
        "med_inst_no": "1217752501201407033233368318",
        "med_ins_order_create_time": "2015-05-20T13:29:35+08:00",
        "total_fee": 202000,
        "med_ins_gov_fee": 100000,
        "med_ins_self_fee": 45000,
        "med_ins_other_fee": 5000,
        "med_ins_cash_fee": 50000,
        "wechat_pay_cash_fee": 42000,
        "cash_add_detail": [{"cash_add_fee": 2000, "cash_add_type": "FREIGHT"}],
        "cash_reduce_detail": [
            {"cash_reduce_fee": 10000, "cash_reduce_type": "DEFAULT_REDUCE_TYPE"}
        ],
        "callback_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "prepay_id": "wx201410272009395522657a690389285100",
        "attach": "{}",
        "med_ins_test_env": False,
    }
    assert payer["card_type"] == "ID_CARD"
    assert decrypt(platform_key, payer["name"]) == "张三"
    assert decrypt(platform_key, payer["id_digest"]) == id_digest(PAYER)
    assert "张三".encode() not in request.content
    assert PAYER.encode() not in request.content
    assert result.mix_trade_no == MIX_TRADE_NO
    assert result.state is PaymentState.PENDING
    assert (result.total, result.wechat_cash) == (Fen(202000), Fen(42000))


def test_paying_for_a_relative_sends_the_relative_encrypted_too(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    platform_key: RsaPrivateKey,
) -> None:
    route = router.post(ORDERS).mock(
        side_effect=lambda request: wechat.response(200, order_entity(pay_for_relatives=True))
    )
    order = documented_order(relative_name="李四", relative_id=RELATIVE)
    run_flow(fake_channel.med_ins_order(order), fake_client)
    body = json.loads(route.calls.last.request.content)
    assert body["pay_for_relatives"] is True
    assert decrypt(platform_key, body["relative"]["name"]) == "李四"
    assert decrypt(platform_key, body["relative"]["id_digest"]) == id_digest(RELATIVE)


def test_in_certificate_mode_the_serial_names_the_certificate_that_encrypted(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    platform_key: RsaPrivateKey,
) -> None:
    moment = datetime.datetime.fromtimestamp(NOW, datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA test")])
    certificate = Certificate(
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(platform_key.public_key.cryptography_key())
        .serial_number(0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1)
        .not_valid_before(moment - datetime.timedelta(days=1))
        .not_valid_after(moment + datetime.timedelta(days=365))
        .sign(rsa.generate_private_key(public_exponent=65537, key_size=2048), hashes.SHA256())
    )
    channel = WechatPayChannel(
        merchant=fake_channel.merchant,
        platform=PlatformKeyStore(certificates=(certificate,)),
        apiv3_key=APIV3_KEY,
        appid=APPID,
        clock=lambda: NOW,
    )

    def answer(request: httpx.Request) -> httpx.Response:
        response = wechat.response(200, order_entity())
        headers = dict(response.headers)
        headers["wechatpay-serial"] = certificate.serial_hex
        return httpx.Response(200, content=response.content, headers=headers)

    route = router.post(ORDERS).mock(side_effect=answer)
    run_flow(channel.med_ins_order(documented_order()), fake_client)
    request = route.calls.last.request
    assert request.headers["Wechatpay-Serial"] == "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    body = json.loads(request.content)
    assert decrypt(platform_key, body["payer"]["name"]) == "张三"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("MIX_PAY_CREATED", PaymentState.PENDING),
        ("MIX_PAY_SUCCESS", PaymentState.PAID),
        ("MIX_PAY_REFUND", PaymentState.REFUNDED),
        ("MIX_PAY_FAIL", PaymentState.FAILED),
    ],
)
def test_the_query_by_out_trade_no_maps_mix_pay_status(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    merchant_key: RsaPrivateKey,
    status: str,
    expected: PaymentState,
) -> None:
    route = router.get(BASE + f"/v3/med-ins/orders/out-trade-no/{OUT_TRADE_NO}").mock(
        side_effect=lambda request: wechat.response(
            200, order_entity(mix_pay_status=status, med_ins_fail_reason="")
        )
    )
    result = run_flow(fake_channel.med_ins_query(OUT_TRADE_NO), fake_client)
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.content == b""
    assert request.headers["Wechatpay-Serial"] == PLATFORM_KEY_ID
    assert_signed_by_merchant(request, merchant_key)
    assert result.state is expected
    assert result.mix_pay_status == status


def test_the_query_of_an_unknown_med_ins_order_is_not_found(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.get(BASE + f"/v3/med-ins/orders/out-trade-no/{OUT_TRADE_NO}").mock(
        side_effect=lambda request: wechat.response(
            404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
        )
    )
    result = run_flow(fake_channel.med_ins_query(OUT_TRADE_NO), fake_client)
    assert result.state is PaymentState.NOT_FOUND


def test_a_refused_order_is_declined_with_the_channels_code(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.post(ORDERS).mock(
        side_effect=lambda request: wechat.response(
            403, {"code": "RULE_LIMIT", "message": "自费金额校验不通过"}
        )
    )
    with pytest.raises(Declined) as caught:
        run_flow(fake_channel.med_ins_order(documented_order()), fake_client)
    assert caught.value.infcode == "RULE_LIMIT"
    assert "张三" not in str(caught.value)


def test_an_outage_on_the_order_says_to_query_before_ordering_again(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router
) -> None:
    router.post(ORDERS).mock(return_value=httpx.Response(502))
    with pytest.raises(Unavailable) as caught:
        run_flow(fake_channel.med_ins_order(documented_order()), fake_client)
    assert "med_ins_query" in caught.value.next_step


# ---------------------------------------------------------------- WeChat Pay's rules, checked first


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"total": Fen(202001)}, "total"),
        ({"cash_reduce": [CashReduce(Fen(60000))]}, "reductions exceed"),
        (
            {
                "mix_pay_type": "INSURANCE_ONLY",
                "prepay_id": None,
            },
            "INSURANCE_ONLY leaves",
        ),
        ({"prepay_id": None}, "needs the prepay_id"),
        ({"pay_auth_no": None}, "needs pay_auth_no"),
        ({"created_at": datetime.datetime(2015, 5, 20, 13, 29, 35)}, "time zone"),
        ({"relative_name": "李四"}, "relative"),
        (
            {
                "mix_pay_type": "CASH_ONLY",
            },
            "CASH_ONLY has an insurance share",
        ),
        ({"fund": Fen(-1)}, "never negative"),
        ({"mix_pay_type": "CASH"}, "not a mix_pay_type"),
        ({"cash": 500.0}, "integer fen"),
        ({"payer_id": "210202198503170037"}, "check digit"),
    ],
)
def test_an_order_breaking_wechat_pays_rules_is_refused_before_anything_is_sent(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem) as caught:
        documented_order(**changes)
    assert "210202198503170037" not in str(caught.value)


def test_a_cash_only_order_needs_no_insurance_fields() -> None:
    order = documented_order(
        mix_pay_type=MixPayType.CASH_ONLY,
        total=Fen(52000),
        fund=Fen(0),
        personal_account=Fen(0),
        other_fund=Fen(0),
        pay_order_id=None,
        pay_auth_no=None,
        geo_location=None,
        created_at=None,
    )
    assert order.wechat_cash == Fen(42000)
    assert not order.pay_for_relatives


def test_an_orders_repr_shows_no_name_id_number_or_authorisation() -> None:
    order = documented_order(relative_name="李四", relative_id=RELATIVE)
    shown = repr(order)
    for secret in ("张三", "李四", PAYER, RELATIVE, "AUTH530100202204022006310000034"):
        assert secret not in shown
    assert "210202********0036" in shown
