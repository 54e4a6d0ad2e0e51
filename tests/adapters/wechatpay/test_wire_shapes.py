"""The exact wire shape of every request the WeChat Pay channel sends, pinned against examples
written from WeChat Pay's public APIv3 documentation (each test cites its page), with a respx
fake that answers as the documentation shows (signed with a test platform key).
"""

from __future__ import annotations

import json
import re

import httpx
import respx

from gongji.gateways import CashOrder, PaymentState
from gongji.money import Fen
from gongji.signing.keys import RsaPrivateKey
from gongji.signing.wechatpay import verify_authorization
from gongji_wechatpay import WechatPayChannel
from tests.adapters.wechatpay.conftest import (
    APPID,
    BASE,
    MCHID,
    MERCHANT_SERIAL,
    NOW,
    PLATFORM_KEY_ID,
    Signer,
    run_flow,
)

# The documentation's example numbers.
OUT_TRADE_NO = "1217752501201407033233368018"
AUTH_CODE = "130061098828009406"
TRANSACTION_ID = "4200000000201407033233368018"

_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


def authorization_fields(request: httpx.Request) -> dict[str, str]:
    scheme, _, fields = request.headers["Authorization"].partition(" ")
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    return dict(_AUTH_FIELD.findall(fields))


def assert_signed_by_merchant(request: httpx.Request, merchant_key: RsaPrivateKey) -> None:
    """The Authorization header has the documented fields and verifies over the exact bytes."""
    fields = authorization_fields(request)
    assert set(fields) == {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}
    assert fields["mchid"] == MCHID
    assert fields["serial_no"] == MERCHANT_SERIAL
    assert fields["timestamp"] == str(NOW)
    assert re.fullmatch(r"[0-9a-f]{32}", fields["nonce_str"])
    mchid = verify_authorization(
        request.method,
        request.url.raw_path,
        request.content,
        request.headers["Authorization"],
        merchant_keys={(MCHID, MERCHANT_SERIAL): merchant_key.public_key},
        now=NOW,
    )
    assert mchid == MCHID


def transaction_example(**changes: object) -> dict[str, object]:
    """The codepay / query answer of the documentation (with fields the adapter ignores)."""
    answer: dict[str, object] = {
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": OUT_TRADE_NO,
        "transaction_id": TRANSACTION_ID,
        "trade_type": "MICROPAY",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "CMC",
        "attach": "自定义数据",
        "success_time": "2018-06-08T10:34:56+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
        "promotion_detail": [{"coupon_id": "109519", "amount": 0, "type": "CASH"}],
    }
    answer.update(changes)
    return answer


def test_codepay_request_is_the_documented_post_with_integer_fen_and_signed_bytes(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    merchant_key: RsaPrivateKey,
) -> None:
    # https://pay.weixin.qq.com/doc/v3/merchant/4012382150 (付款码支付): POST
    # /v3/pay/transactions/codepay, Accept and Content-Type application/json, body appid,
    # mchid, description, out_trade_no, payer.auth_code, amount.total (fen) + currency,
    # scene_info.store_info.out_id.
    route = router.post(BASE + "/v3/pay/transactions/codepay").mock(
        side_effect=lambda request: wechat.response(200, transaction_example())
    )
    order = CashOrder(
        out_trade_no=OUT_TRADE_NO,
        amount=Fen(100),
        auth_code=AUTH_CODE,
        description="Image形象店-深圳腾大-QQ公仔",
    )
    payment = run_flow(fake_channel.charge(order), fake_client)

    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == BASE + "/v3/pay/transactions/codepay"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Wechatpay-Serial"] == PLATFORM_KEY_ID  # public-key mode
    assert request.headers["User-Agent"].startswith("gongji/")
    assert json.loads(request.content) == {
        "appid": APPID,
        "mchid": MCHID,
        "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": OUT_TRADE_NO,
        "payer": {"auth_code": AUTH_CODE},
        "amount": {"total": 100, "currency": "CNY"},
        "scene_info": {"store_info": {"out_id": "SZTX001"}},
    }
    assert b'"total":100,' in request.content  # an integer, not 100.0 or "1.00"
    assert_signed_by_merchant(request, merchant_key)
    assert payment.state is PaymentState.PAID
    assert payment.amount == Fen(100)
    assert payment.transaction_id == TRANSACTION_ID


def test_query_is_a_get_by_out_trade_no_with_mchid_and_no_body(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    merchant_key: RsaPrivateKey,
) -> None:
    # https://pay.weixin.qq.com/doc/v3/merchant/4013070356 (商户订单号查询订单): GET
    # /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=..., Accept application/json.
    route = router.get(BASE + f"/v3/pay/transactions/out-trade-no/{OUT_TRADE_NO}").mock(
        side_effect=lambda request: wechat.response(200, transaction_example())
    )
    payment = run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.raw_path.decode() == (
        f"/v3/pay/transactions/out-trade-no/{OUT_TRADE_NO}?mchid={MCHID}"
    )
    assert request.content == b""
    assert "Content-Type" not in request.headers
    assert request.headers["Accept"] == "application/json"
    assert_signed_by_merchant(request, merchant_key)  # the signed URL includes the query
    assert payment.state is PaymentState.PAID


def test_reverse_posts_appid_and_mchid_to_the_reverse_path(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    merchant_key: RsaPrivateKey,
) -> None:
    # https://pay.weixin.qq.com/docs/merchant/apis/code-payment-v3/direct/reverse.html (撤销):
    # POST /v3/pay/transactions/out-trade-no/{out_trade_no}/reverse, Accept and Content-Type
    # application/json, body {appid, mchid}; the mock answers {appid, mchid, out_trade_no}.
    route = router.post(BASE + f"/v3/pay/transactions/out-trade-no/{OUT_TRADE_NO}/reverse").mock(
        side_effect=lambda request: wechat.response(
            200, {"appid": APPID, "mchid": MCHID, "out_trade_no": OUT_TRADE_NO}
        )
    )
    payment = run_flow(fake_channel.reverse(OUT_TRADE_NO), fake_client)

    request = route.calls.last.request
    assert json.loads(request.content) == {"appid": APPID, "mchid": MCHID}
    assert request.headers["Content-Type"] == "application/json"
    assert_signed_by_merchant(request, merchant_key)
    assert payment.state is PaymentState.CLOSED


def test_refund_request_has_the_documented_fields_and_integer_amounts(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    merchant_key: RsaPrivateKey,
) -> None:
    # https://pay.weixin.qq.com/doc/v3/merchant/4013071036 (退款申请): POST
    # /v3/refund/domestic/refunds with out_trade_no, out_refund_no, notify_url,
    # amount.refund / amount.total (fen) / amount.currency; the answer's example below.
    answer = {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": "1217752501201407033233368018",
        "transaction_id": TRANSACTION_ID,
        "out_trade_no": OUT_TRADE_NO,
        "channel": "ORIGINAL",
        "user_received_account": "招商银行信用卡0403",
        "success_time": "2020-12-01T16:18:12+08:00",
        "create_time": "2020-12-01T16:18:12+08:00",
        "status": "SUCCESS",
        "funds_account": "UNSETTLED",
        "amount": {
            "total": 100,
            "refund": 100,
            "from": [{"account": "AVAILABLE", "amount": 444}],
            "payer_total": 90,
            "payer_refund": 90,
            "settlement_refund": 100,
            "settlement_total": 100,
            "discount_refund": 10,
            "currency": "CNY",
            "refund_fee": 0,
        },
    }
    route = router.post(BASE + "/v3/refund/domestic/refunds").mock(
        side_effect=lambda request: wechat.response(200, answer)
    )
    channel = WechatPayChannel(
        merchant=fake_channel.merchant,
        platform=fake_channel.platform,
        apiv3_key="0123456789abcdef0123456789ABCDEF",
        appid=APPID,
        clock=lambda: NOW,
        refund_notify_url="https://weixin.qq.com",
    )
    refund = run_flow(
        channel.refund(OUT_TRADE_NO, "1217752501201407033233368018", Fen(100), Fen(100)),
        fake_client,
    )

    request = route.calls.last.request
    assert json.loads(request.content) == {
        "out_trade_no": OUT_TRADE_NO,
        "out_refund_no": "1217752501201407033233368018",
        "amount": {"refund": 100, "total": 100, "currency": "CNY"},
        "notify_url": "https://weixin.qq.com",
    }
    assert_signed_by_merchant(request, merchant_key)
    assert refund.state == "success"
    assert refund.amount == Fen(100)
    assert refund.refund_id == "50000000382019052709732678859"


def test_refund_status_is_a_get_by_out_refund_no(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    merchant_key: RsaPrivateKey,
) -> None:
    # WeChat Pay's merchant documentation, 查询单笔退款（按商户退款单号）: GET
    # /v3/refund/domestic/refunds/{out_refund_no}, no body, no query.
    route = router.get(BASE + "/v3/refund/domestic/refunds/R-0001").mock(
        side_effect=lambda request: wechat.response(
            200,
            {
                "refund_id": "50000000382019052709732678859",
                "out_refund_no": "R-0001",
                "out_trade_no": OUT_TRADE_NO,
                "status": "PROCESSING",
                "amount": {"total": 100, "refund": 40, "currency": "CNY"},
            },
        )
    )
    refund = run_flow(fake_channel.refund_status("R-0001"), fake_client)

    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.raw_path == b"/v3/refund/domestic/refunds/R-0001"
    assert request.content == b""
    assert_signed_by_merchant(request, merchant_key)
    assert refund.state == "processing"
    assert refund.amount == Fen(40)


def test_base_url_is_configurable_and_requests_carry_absolute_urls(
    fake_channel: WechatPayChannel, merchant_key: RsaPrivateKey
) -> None:
    # The backup domain of the documentation (备域名), or a proxy.
    channel = WechatPayChannel(
        merchant=fake_channel.merchant,
        platform=fake_channel.platform,
        apiv3_key="0123456789abcdef0123456789ABCDEF",
        appid=APPID,
        base_url="https://api2.mch.weixin.qq.com/",
    )
    request = next(channel.query(OUT_TRADE_NO))
    assert isinstance(request, httpx.Request)
    assert str(request.url) == (
        f"https://api2.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/{OUT_TRADE_NO}"
        f"?mchid={MCHID}"
    )
