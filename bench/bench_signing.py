"""Signing cost, side by side with the peers and with a bare ``cryptography`` signature.

For one RSA-2048 key and one request each: our Alipay order string vs
python-alipay-sdk vs a bare sign of the same content; our WeChat Pay
Authorization header (timestamp and nonce included) vs wechatpayv3 vs a bare
sign of the same message; the TIF headers; our SM2 signature vs the figure of
``openssl speed -seconds 1 sm2``. Candidates run interleaved in rounds, and each
ratio is the median of the per-round ratios, so a noisy neighbour moves it little.

Targets: Alipay <= 1.05 x bare, WeChat <= 1.05 x bare, TIF <= 5 us,
SM2 <= 3.5 x OpenSSL. Exit status 1 on any miss.
"""

from __future__ import annotations

import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gongji.signing import (
    AlipaySigner,
    Sm2PrivateKey,
    TifSigner,
    WechatPayMerchant,
    load_private_key,
)
from gongji.signing._common import new_nonce
from gongji.signing.alipay import biz_content_json, content_to_sign
from gongji.signing.wechatpay import request_message

ALIPAY_TARGET = 1.05
WECHAT_TARGET = 1.05
TIF_TARGET_US = 5.0
SM2_TARGET = 3.5
ROUNDS = 31

STAMP = "2026-11-23 10:00:00"
BIZ: dict[str, object] = {
    "out_trade_no": "POS01-20261123-0001",
    "scene": "bar_code",
    "auth_code": "28763443825664394",
    "subject": "药店 布洛芬缓释胶囊 ×2",
    "total_amount": "12.50",
    "extend_params": {"medical_card_id": "MC-210202-0001", "medical_card_inst_id": "210200"},
}
WECHAT_PATH = "/v3/pay/transactions/codepay"
WECHAT_BODY = (
    '{"appid":"wxd678efh567hg6787","mchid":"1900000109","description":"药店 布洛芬缓释胶囊 ×2",'
    '"out_trade_no":"POS01-20261123-0001","payer":{"auth_code":"130061098828009406"},'
    '"amount":{"total":1250,"currency":"CNY"},"scene_info":{"store_info":{"out_id":"POS01"}}}'
)


def per_call_ns(function: Callable[[], object], batch: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(batch):
        function()
    return (time.perf_counter_ns() - start) / batch


def side_by_side(candidates: dict[str, Callable[[], object]], batch: int) -> dict[str, list[float]]:
    """Per-call ns of each candidate, one figure per round, candidates interleaved."""
    for function in candidates.values():
        per_call_ns(function, max(1, batch // 5))  # warm up
    figures: dict[str, list[float]] = {name: [] for name in candidates}
    order = list(candidates.items())
    for round_number in range(ROUNDS):
        # Alternate the order each round so a drifting clock speed favours no one.
        for name, function in order if round_number % 2 == 0 else reversed(order):
            figures[name].append(per_call_ns(function, batch))
    return figures


def median_ratio(over: list[float], under: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(over, under, strict=True))


def openssl_sm2_sign_us() -> float | None:
    """Microseconds per SM2 signature according to ``openssl speed``, or None where unavailable."""
    binary = shutil.which("openssl")
    if binary is None:
        return None
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [binary, "speed", "-seconds", "1", "sm2"], capture_output=True, text=True, check=False
    )
    match = re.search(r"SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", done.stdout)
    return 1e6 / float(match.group(1)) if match else None


def main() -> int:
    warnings.simplefilter("ignore", DeprecationWarning)  # the peers' own imports
    from alipay import AliPay
    from wechatpayv3.utils import build_authorization

    raw_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = raw_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        raw_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key = load_private_key(pem)
    # The bare baseline: the same PEM loaded straight into cryptography, used as it documents.
    bare_key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(bare_key, rsa.RSAPrivateKey)
    pkcs1v15, sha256 = padding.PKCS1v15(), hashes.SHA256()
    rows: list[tuple[str, float]] = []

    # Alipay: the full order string, from method and biz_content.
    signer = AlipaySigner(app_id="2021000117600000", private_key=key)
    peer_alipay = AliPay(
        appid="2021000117600000", app_private_key_string=pem, alipay_public_key_string=public_pem
    )
    notify = "https://pos.example/alipay/notify"
    params = signer.common_params("alipay.trade.pay", timestamp=STAMP, notify_url=notify)
    params["biz_content"] = biz_content_json(BIZ)
    alipay_content = content_to_sign(params.items()).encode()
    alipay = side_by_side(
        {
            "ours": lambda: signer.order_string(
                "alipay.trade.pay", BIZ, timestamp=STAMP, notify_url=notify
            ),
            "peer": lambda: peer_alipay.sign_data(
                peer_alipay.build_body(
                    "alipay.trade.pay", dict(BIZ), timestamp=STAMP, notify_url=notify
                )
            ),
            "bare": lambda: bare_key.sign(alipay_content, pkcs1v15, sha256),
        },
        batch=20,
    )
    alipay_ratio = median_ratio(alipay["ours"], alipay["bare"])
    rows += [
        ("Alipay order string, ours", statistics.median(alipay["ours"])),
        ("Alipay order string, python-alipay-sdk", statistics.median(alipay["peer"])),
        ("Alipay bare cryptography sign of the content", statistics.median(alipay["bare"])),
    ]

    # WeChat Pay: the Authorization header, timestamp and nonce drawn as a request would.
    merchant = WechatPayMerchant(
        mchid="1900000109", serial_no="3775B6A45ACD588826D15E583A95F5DD", private_key=key
    )
    body = WECHAT_BODY.encode()
    wechat_message = request_message("POST", WECHAT_PATH, "1795000000", secrets.token_hex(16), body)
    wechat = side_by_side(
        {
            "ours": lambda: merchant.authorization(
                "POST", WECHAT_PATH, body, timestamp=int(time.time()), nonce=new_nonce()
            ),
            "peer": lambda: build_authorization(
                WECHAT_PATH,
                "POST",
                "1900000109",
                "3775B6A45ACD588826D15E583A95F5DD",
                bare_key,
                data=WECHAT_BODY,
            ),
            "bare": lambda: bare_key.sign(wechat_message, pkcs1v15, sha256),
        },
        batch=20,
    )
    wechat_ratio = median_ratio(wechat["ours"], wechat["bare"])
    rows += [
        ("WeChat Authorization header, ours", statistics.median(wechat["ours"])),
        ("WeChat Authorization header, wechatpayv3", statistics.median(wechat["peer"])),
        ("WeChat bare cryptography sign of the message", statistics.median(wechat["bare"])),
    ]

    # TIF: the four headers, nonce from secrets.
    tif = TifSigner("paas01", "tif-secret-7f3a9c")
    tif_ns = statistics.median(side_by_side({"tif": tif.headers}, batch=20_000)["tif"])
    rows.append(("TIF headers", tif_ns))

    # SM2: sign with Z and SM3 included, vs openssl speed.
    sm2 = Sm2PrivateKey.load("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")
    message = ("appId=43AF047BBA47FC8A1AE8EFB2XXXXXXXX&data=" + WECHAT_BODY + "&key=s").encode()
    sm2_ns = statistics.median(side_by_side({"sm2": lambda: sm2.sign(message)}, batch=100)["sm2"])
    rows.append(("SM2-with-SM3 sign, ours (gmssl_pyx)", sm2_ns))
    openssl_us = openssl_sm2_sign_us()
    if openssl_us is not None:
        rows.append(("SM2 sign, openssl speed", openssl_us * 1000))

    print(f"{'what':<50}{'median per call':>18}")
    for name, ns in rows:
        print(f"{name:<50}{ns / 1000:>15.1f} us")
    sm2_ratio = None if openssl_us is None else sm2_ns / 1000 / openssl_us
    checks = [
        ("Alipay ours / bare", alipay_ratio, ALIPAY_TARGET, "x"),
        ("Alipay peer / bare", median_ratio(alipay["peer"], alipay["bare"]), None, "x"),
        ("WeChat ours / bare", wechat_ratio, WECHAT_TARGET, "x"),
        ("WeChat peer / bare", median_ratio(wechat["peer"], wechat["bare"]), None, "x"),
        ("TIF headers", tif_ns / 1000, TIF_TARGET_US, " us"),
        ("SM2 ours / openssl", sm2_ratio, SM2_TARGET, "x"),
    ]
    print(f"{'ratio':<50}{'figure':>10}{'target':>10}  verdict")
    misses = 0
    for name, figure, target, unit in checks:
        if figure is None:
            print(
                f"{name:<50}{'n/a':>10}{'<= ' + str(target):>10}  not measured (no openssl speed sm2)"
            )
            continue
        verdict = "" if target is None else ("PASS" if figure <= target else "MISS")
        misses += verdict == "MISS"
        shown = f"{figure:.3f}{unit}" if unit == "x" else f"{figure:.2f}{unit}"
        print(f"{name:<50}{shown:>10}{'' if target is None else f'<= {target}':>10}  {verdict}")
    sm2_text = "n/a" if sm2_ratio is None else f"{sm2_ratio:.2f}x"
    verdict = "PASS" if misses == 0 else "MISS"
    print(
        f"signing: Alipay {alipay_ratio:.3f}x bare (target <= {ALIPAY_TARGET}), WeChat {wechat_ratio:.3f}x bare "
        f"(<= {WECHAT_TARGET}), TIF {tif_ns / 1000:.2f} us (<= {TIF_TARGET_US}), SM2 {sm2_text} OpenSSL "
        f"(<= {SM2_TARGET}): {verdict}"
    )
    return 0 if misses == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
