"""Alipay answers a refused app or signature with a signed ``error_response``; the adapter
reads it whatever the HTTP status (the platform says 200; a gateway in front may not),
and reads nothing from an answer Alipay did not sign."""

from __future__ import annotations

import base64

import httpx
import pytest

from gongji.errors import ConfigError, SignatureError, Unavailable
from gongji.gateways import CashOrder
from gongji.money import Fen
from gongji.signing.alipay import AlipaySigner, AlipayVerifier
from gongji.signing.keys import RsaPrivateKey
from gongji_alipay import AlipayChannel
from tests.adapters.alipay.conftest import code, run

REFUSED = (
    b'{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature",'
    b'"sub_msg":"\\u9a8c\\u7b7e\\u51fa\\u9519"}'
)


def error_response(key: RsaPrivateKey, content: bytes = REFUSED) -> bytes:
    sign = base64.b64encode(key.sign_sha256(content)).decode()
    return b'{"error_response":' + content + f',"sign":"{sign}"}}'.encode()


def channel_answered(
    signer: AlipaySigner, verifier: AlipayVerifier, status: int, body: bytes
) -> tuple[AlipayChannel, httpx.Client]:
    channel = AlipayChannel(signer=signer, verifier=verifier)
    answer = httpx.Response(status, content=body, headers={"Content-Type": "application/json"})
    return channel, httpx.Client(transport=httpx.MockTransport(lambda _: answer))


def order() -> CashOrder:
    return CashOrder(out_trade_no="POS01-E001", amount=Fen(1250), auth_code=code("1"))


@pytest.mark.parametrize("status", [200, 401, 403, 500, 503])
def test_a_signed_error_response_is_read_whatever_the_status(
    signer: AlipaySigner, verifier: AlipayVerifier, alipay_key: RsaPrivateKey, status: int
) -> None:
    channel, client = channel_answered(signer, verifier, status, error_response(alipay_key))
    with client, pytest.raises(ConfigError, match=r"isv\.invalid-signature") as raised:
        run(channel.charge(order()), client)
    assert raised.value.code == "alipay_credentials"


def test_an_unsigned_5xx_is_unavailable_and_nothing_in_it_is_read(
    signer: AlipaySigner, verifier: AlipayVerifier
) -> None:
    forged = b'{"error_response":' + REFUSED + b"}"
    channel, client = channel_answered(signer, verifier, 502, forged)
    with client, pytest.raises(Unavailable, match="HTTP 502"):
        run(channel.charge(order()), client)


def test_an_error_response_signed_by_another_key_is_not_trusted(
    signer: AlipaySigner, verifier: AlipayVerifier, app_key: RsaPrivateKey
) -> None:
    channel, client = channel_answered(signer, verifier, 200, error_response(app_key))
    with client, pytest.raises(SignatureError):
        run(channel.charge(order()), client)
