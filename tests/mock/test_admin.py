"""The admin endpoint: state with masked IDs, the invariant check, faults switched over HTTP,
and the mock's test keys for a POS in another process."""

from __future__ import annotations

import httpx
import pytest

from gongji.signing.keys import load_private_key, load_public_key
from gongji.signing.wechatpay import WechatPayAuth, WechatPayMerchant
from gongji.signing.wechatpay_keys import PlatformKeyStore
from gongji_mock import MockGateway, testkeys
from gongji_mock.alipay.endpoint import DEFAULT_APP_ID
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.national.vouchers import token_of
from gongji_mock.wechatpay.endpoint import (
    DEFAULT_APPID,
    DEFAULT_MCHID,
    DEFAULT_MERCHANT_SERIAL,
    PLATFORM_KEY_ID,
)
from tests.mock import test_mock_wechatpay as wechat_calls

SON = "210202198503170036"


@pytest.fixture
def admin() -> httpx.Client:
    return httpx.Client(
        transport=MockGateway.demo().transport(), base_url="http://mock.test/gongji-admin/"
    )


def test_state_shows_people_balances_and_bindings_with_masked_ids(admin: httpx.Client) -> None:
    state = admin.get("state").json()
    assert state["policy"] == "demo-dalian"
    son = next(p for p in state["people"] if p["id"].endswith("0036"))
    assert son["balance"] == "5000.00"
    assert SON not in admin.get("state").text
    assert {b["status"] for b in state["bindings"]} == {"active", "pending", "revoked"}


def test_check_reports_a_sound_ledger(admin: httpx.Client) -> None:
    assert admin.get("check").json() == {"violations": []}


def test_faults_switched_over_http_change_the_next_call(admin: httpx.Client) -> None:
    added = admin.post(
        "faults", json={"kind": "error_5xx", "target": "national", "times": 1}
    ).json()
    assert added["faults"][0]["kind"] == "error_5xx"
    response = admin.post("http://mock.test/fsi/api/rsfComIfsService/callService", content=b"{}")
    assert response.status_code == 503
    assert admin.delete("faults").json()["faults"] == []


def test_admin_is_never_hit_by_faults(admin: httpx.Client) -> None:
    admin.post("faults", json={"kind": "error_5xx"})
    assert admin.get("check").status_code == 200


def test_bad_fault_over_http_is_a_400_saying_why(admin: httpx.Client) -> None:
    response = admin.post("faults", json={"kind": "meteor"})
    assert response.status_code == 400
    assert "Unknown fault kind" in response.json()["message"]


def test_fresh_e_voucher_over_http_is_a_qr_text_that_decodes_to_a_token(
    admin: httpx.Client,
) -> None:
    qr_text = admin.post("e-voucher", json={"id_number": SON}).json()["qr_text"]
    token = token_of(qr_text)
    assert qr_text.startswith("GJQR") and token is not None and token.startswith("ev-")


def test_keys_hand_out_the_test_credentials_the_mock_uses() -> None:
    mock = MockGateway.demo()
    with httpx.Client(transport=mock.transport(), base_url="http://mock.test") as client:
        answer = client.get("/gongji-admin/keys")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    keys = answer.json()
    assert "moves no real money" in keys["notice"]
    assert keys["policy"] == "demo-dalian"
    assert keys["tif"] == {"paasid": DEFAULT_PAASID, "secret": DEFAULT_TIF_SECRET}
    wx, ali = keys["wechatpay"], keys["alipay"]
    assert (wx["mchid"], wx["appid"], wx["merchant_serial_no"]) == (
        DEFAULT_MCHID,
        DEFAULT_APPID,
        DEFAULT_MERCHANT_SERIAL,
    )
    # The private keys are the ones the mock trusts, the public keys the ones it signs with.
    merchant = load_private_key(wx["merchant_private_key"])
    assert merchant.fingerprint == mock.wechatpay.merchant.private_key.fingerprint
    assert wx["platform_public_key_id"] == PLATFORM_KEY_ID
    assert load_public_key(wx["platform_public_key"]) == mock.wechatpay.platform_public_key
    assert wx["apiv3_key"] == mock.wechatpay.apiv3_key
    assert ali["app_id"] == DEFAULT_APP_ID
    app = load_private_key(ali["app_private_key"])
    assert app.fingerprint == mock.alipay.app_private_key.fingerprint
    assert load_public_key(ali["alipay_public_key"]) == mock.alipay.alipay_public_key


def test_keys_signed_with_what_the_endpoint_hands_out_are_accepted_by_the_mock() -> None:
    mock = MockGateway.demo()
    with httpx.Client(transport=mock.transport(), base_url="http://mock.test") as client:
        wx = client.get("/gongji-admin/keys").json()["wechatpay"]
    merchant = WechatPayMerchant(
        mchid=wx["mchid"],
        serial_no=wx["merchant_serial_no"],
        private_key=load_private_key(wx["merchant_private_key"]),
    )
    platform = PlatformKeyStore(
        public_keys={wx["platform_public_key_id"]: wx["platform_public_key"]}
    )
    with httpx.Client(
        transport=mock.transport(),
        base_url=wechat_calls.BASE,
        auth=WechatPayAuth(merchant, platform),  # verifies the mock's signed answers too
    ) as wechat:
        assert wechat_calls.codepay(wechat, "WX-KEYS", wechat_calls.code("1")).status_code == 200


def test_keys_replaced_behind_the_gateways_back_are_not_handed_out() -> None:
    mock = MockGateway.demo()
    other = testkeys.test_rsa_key("another-merchant")
    mock.wechatpay.use_keys(
        platform_key=testkeys.test_rsa_key("wechatpay-platform"),
        merchant_key=other,
        apiv3_key=mock.wechatpay.apiv3_key,
    )
    with httpx.Client(transport=mock.transport(), base_url="http://mock.test") as client:
        answer = client.get("/gongji-admin/keys")
    assert answer.status_code == 409
    assert answer.json()["error"] == "keys_replaced"
    assert "PRIVATE KEY" not in answer.text
