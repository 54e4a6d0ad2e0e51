"""Invariant 4: no key or secret in any repr, log line or error, whatever the signers do."""

from __future__ import annotations

import logging

import httpx
import pytest

from gongji.errors import GongjiError
from gongji.signing import (
    AlipayAuth,
    AlipayPublicKeys,
    AlipaySigner,
    AlipayVerifier,
    CsbAuth,
    CsbSigner,
    MobilePayAuth,
    MobilePayChannel,
    PlatformKeyStore,
    Sm2PrivateKey,
    TifAuth,
    TifSigner,
    WechatPayAuth,
    WechatPayMerchant,
    WechatPayNotifications,
)
from gongji.signing.alipay import sign_response
from gongji.signing.keys import RsaPrivateKey
from gongji.signing.mobilepay import platform_reply
from gongji.signing.wechatpay import platform_headers
from tests.signing.conftest import NOW, FixedClock

TIF_SECRET = "tif-SECRET-a1b2c3d4"
CSB_SECRET = "csb-SECRET-e5f6a7b8"
APIV3_KEY = "APIV3-SECRET-0123456789abcdefghi"
APP_SECRET = "APPSECRET-NMVFVILMKT13GEMD3BKPKC"
SM2_SCALAR = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"


def test_signing_and_failing_leak_no_secret_to_logs_reprs_or_errors(
    caplog: pytest.LogCaptureFixture,
    keys: dict[str, RsaPrivateKey],
    pem: dict[str, str],
    public_pem: dict[str, str],
    clock: FixedClock,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    store = PlatformKeyStore(public_keys={"PUB_KEY_ID_01": public_pem["platform"]})
    sm2 = Sm2PrivateKey.load(SM2_SCALAR)
    channel = MobilePayChannel(
        app_id="43AF047BBA47FC8A1AE8EFB2AB12CD34",
        app_secret=APP_SECRET,
        private_key=sm2,
        platform_public_key=sm2.public_key,
        clock=clock,
    )
    alipay_signer = AlipaySigner(app_id="2021000117600000", private_key=keys["app"], clock=clock)
    alipay_verifier = AlipayVerifier(AlipayPublicKeys(public_key=public_pem["alipay"]), clock=clock)
    auths: list[httpx.Auth] = [
        TifAuth(TifSigner("paas01", TIF_SECRET, clock=clock)),
        CsbAuth(
            CsbSigner(access_key="ak01", secret=CSB_SECRET, api_name="hsa.fsi.2101", clock=clock)
        ),
        WechatPayAuth(
            WechatPayMerchant(mchid="1900000109", serial_no="3775B6", private_key=keys["merchant"]),
            store,
            clock=clock,
        ),
        AlipayAuth(alipay_signer, alipay_verifier),
        MobilePayAuth(channel),
    ]

    def gateway(request: httpx.Request) -> httpx.Response:
        if request.url.host == "wechat.example":
            body = b'{"ok":true}'
            return httpx.Response(
                200,
                content=body,
                headers=platform_headers(
                    keys["platform"], body, serial="PUB_KEY_ID_01", timestamp=NOW
                ),
            )
        if request.url.host == "alipay.example":
            return httpx.Response(
                200,
                content=sign_response(keys["alipay"], "alipay.trade.query", b'{"code":"10000"}'),
            )
        if request.url.host == "mobile.example":
            return httpx.Response(
                200, content=platform_reply(channel.app_id, APP_SECRET, sm2, {"ok": "1"})
            )
        return httpx.Response(200, json={"infcode": 0})

    hosts = ["tif.example", "csb.example", "wechat.example", "alipay.example", "mobile.example"]
    with httpx.Client(transport=httpx.MockTransport(gateway)) as client:
        for auth, host in zip(auths, hosts, strict=True):
            params = (
                alipay_signer.common_params("alipay.trade.query")
                if host == "alipay.example"
                else None
            )
            client.post(
                f"https://{host}/api", json={"idNo": "350181199011193519"}, params=params, auth=auth
            )
            seen.append(repr(auth))
        # Failures: every refusal message is read too.
        failing = httpx.MockTransport(
            lambda request: httpx.Response(200, content=b'{"forged":true}')
        )
        with httpx.Client(transport=failing) as forged:
            for auth, host in zip(auths[2:], hosts[2:], strict=True):
                params = (
                    alipay_signer.common_params("alipay.trade.query")
                    if host == "alipay.example"
                    else None
                )
                with pytest.raises(GongjiError) as caught:
                    forged.post(f"https://{host}/api", json={"a": "1"}, params=params, auth=auth)
                seen.extend([str(caught.value), repr(caught.value)])
    notifications = WechatPayNotifications(store, APIV3_KEY, clock=clock)
    with pytest.raises(GongjiError) as caught:
        notifications.open({"Wechatpay-Timestamp": str(NOW)}, b"{}")
    seen.extend(
        [str(caught.value), repr(notifications), repr(store), repr(sm2), repr(keys["merchant"])]
    )
    seen.append(caplog.text)
    everything = "\n".join(seen)
    assert "PUB_KEY_ID_01" in everything  # the net is cast: serials are public and do appear
    secrets = [TIF_SECRET, CSB_SECRET, APIV3_KEY, APP_SECRET, SM2_SCALAR, SM2_SCALAR.upper()]
    secrets += [pem[role].splitlines()[5] for role in ("merchant", "app")]
    for secret in secrets:
        assert secret not in everything
