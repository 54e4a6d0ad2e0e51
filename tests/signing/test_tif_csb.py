"""TIF and CSB: the formulas recomputed independently, the auth flows, and the gateway's refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest

from gongji.errors import ConfigError, SignatureError
from gongji.signing import (
    CsbAuth,
    CsbSigner,
    MemoryNonceCache,
    TifAuth,
    TifSigner,
    verify_csb_request,
    verify_tif_headers,
)
from gongji.signing._common import _NoncePool, new_nonce
from gongji.signing.csb import request_params
from tests.signing.conftest import NOW, FixedClock

SECRET = "tif-secret-7f3a9c"


def test_tif_signature_is_sha256_of_timestamp_secret_nonce_timestamp(clock: FixedClock) -> None:
    headers = TifSigner("paas01", SECRET, clock=clock).headers(nonce="n0nce")
    stamp = str(NOW)
    expected = hashlib.sha256(f"{stamp}{SECRET}n0nce{stamp}".encode()).hexdigest()
    assert headers == {
        "x-tif-paasid": "paas01",
        "x-tif-timestamp": stamp,
        "x-tif-nonce": "n0nce",
        "x-tif-signature": expected,
    }


def test_tif_hex_case_is_configurable_per_city(clock: FixedClock) -> None:
    upper = TifSigner("paas01", SECRET, hex_case="upper", clock=clock).headers(nonce="n")
    lower = TifSigner("paas01", SECRET, hex_case="lower", clock=clock).headers(nonce="n")
    assert upper["x-tif-signature"] == lower["x-tif-signature"].upper()
    assert upper["x-tif-signature"] != lower["x-tif-signature"]


def test_tif_nonces_are_fresh_for_every_request(clock: FixedClock) -> None:
    signer = TifSigner("paas01", SECRET, clock=clock)
    nonces = {signer.headers()["x-tif-nonce"] for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(nonce) == 32 for nonce in nonces)


def test_tif_auth_adds_headers_the_gateway_accepts(clock: FixedClock) -> None:
    seen: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(
            verify_tif_headers(request.headers, secrets_by_paasid={"paas01": SECRET}, now=NOW)
        )
        return httpx.Response(200, json={"infcode": 0})

    auth = TifAuth(TifSigner("paas01", SECRET, hex_case="upper", clock=clock))
    with httpx.Client(transport=httpx.MockTransport(gateway), auth=auth) as client:
        assert (
            client.post("https://tif.example/api/1101", json={"infno": "1101"}).status_code == 200
        )
    assert seen == ["paas01"]


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("x-tif-signature", "0" * 64, "did not verify"),
        ("x-tif-nonce", "another-nonce", "did not verify"),
        ("x-tif-timestamp", str(NOW - 301), "outside the 300 s window"),
        ("x-tif-paasid", "paas99", "not known"),
    ],
)
def test_tif_gateway_refuses_tampered_or_expired_headers(
    clock: FixedClock, header: str, value: str, reason: str
) -> None:
    headers = TifSigner("paas01", SECRET, clock=clock).headers()
    headers[header] = value
    with pytest.raises(SignatureError, match=reason):
        verify_tif_headers(headers, secrets_by_paasid={"paas01": SECRET}, now=NOW)


def test_tif_gateway_refuses_a_replayed_nonce_within_the_window(clock: FixedClock) -> None:
    headers = TifSigner("paas01", SECRET, clock=clock).headers()
    cache = MemoryNonceCache()
    verify_tif_headers(headers, secrets_by_paasid={"paas01": SECRET}, now=NOW, nonce_cache=cache)
    with pytest.raises(SignatureError, match="replayed"):
        verify_tif_headers(
            headers, secrets_by_paasid={"paas01": SECRET}, now=NOW + 5, nonce_cache=cache
        )


def test_tif_signer_repr_hides_the_secret() -> None:
    assert SECRET not in repr(TifSigner("paas01", SECRET))
    assert SECRET not in repr(TifAuth(TifSigner("paas01", SECRET)))


def test_tif_signer_refuses_an_empty_secret() -> None:
    with pytest.raises(ConfigError):
        TifSigner("paas01", "")


CSB_SECRET = "csb-secret-0b1c"


def test_csb_signature_is_base64_hmac_sha1_over_sorted_params(clock: FixedClock) -> None:
    signer = CsbSigner(
        access_key="ak01",
        secret=CSB_SECRET,
        api_name="hsa.fsi.2101",
        api_version="1.0.0",
        clock=clock,
    )
    headers = signer.headers([("region", "320100"), ("b", "2")])
    signed = (
        f"_api_access_key=ak01&_api_name=hsa.fsi.2101&_api_timestamp={NOW * 1000}"
        "&_api_version=1.0.0&b=2&region=320100"
    )
    expected = base64.b64encode(
        hmac.new(CSB_SECRET.encode(), signed.encode(), hashlib.sha1).digest()
    ).decode()
    assert headers["_api_signature"] == expected
    assert headers["_api_timestamp"] == str(NOW * 1000)


def test_csb_auth_signs_query_and_form_params_the_gateway_accepts(clock: FixedClock) -> None:
    accepted: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        accepted.append(
            verify_csb_request(
                request.headers,
                request_params(request),
                secrets_by_access_key={"ak01": CSB_SECRET},
                now=NOW,
            )
        )
        return httpx.Response(200)

    auth = CsbAuth(
        CsbSigner(access_key="ak01", secret=CSB_SECRET, api_name="hsa.fsi.2101", clock=clock)
    )
    with httpx.Client(transport=httpx.MockTransport(gateway), auth=auth) as client:
        client.post("https://csb.example/api?region=320100", data={"infno": "2101", "名": "值"})
        client.post("https://csb.example/api", json={"infno": "2101"})
    assert accepted == ["ak01", "ak01"]


def test_csb_gateway_refuses_a_tampered_param(clock: FixedClock) -> None:
    signer = CsbSigner(access_key="ak01", secret=CSB_SECRET, api_name="hsa.fsi.2101", clock=clock)
    headers = signer.headers([("region", "320100")])
    with pytest.raises(SignatureError, match="_api_signature did not verify"):
        verify_csb_request(
            headers, [("region", "320200")], secrets_by_access_key={"ak01": CSB_SECRET}, now=NOW
        )


def test_csb_gateway_refuses_an_expired_timestamp(clock: FixedClock) -> None:
    signer = CsbSigner(access_key="ak01", secret=CSB_SECRET, api_name="hsa.fsi.2101", clock=clock)
    headers = signer.headers(timestamp_ms=(NOW - 600) * 1000)
    with pytest.raises(SignatureError, match="outside the 300 s window"):
        verify_csb_request(headers, [], secrets_by_access_key={"ak01": CSB_SECRET}, now=NOW)


def test_csb_gateway_refuses_a_replayed_signature(clock: FixedClock) -> None:
    signer = CsbSigner(access_key="ak01", secret=CSB_SECRET, api_name="hsa.fsi.2101", clock=clock)
    headers = signer.headers()
    cache = MemoryNonceCache()
    verify_csb_request(
        headers, [], secrets_by_access_key={"ak01": CSB_SECRET}, now=NOW, nonce_cache=cache
    )
    with pytest.raises(SignatureError, match="replayed"):
        verify_csb_request(
            headers, [], secrets_by_access_key={"ak01": CSB_SECRET}, now=NOW, nonce_cache=cache
        )


def test_csb_signer_repr_hides_the_secret() -> None:
    signer = CsbSigner(access_key="ak01", secret=CSB_SECRET, api_name="hsa.fsi.2101")
    assert CSB_SECRET not in repr(signer)
    assert CSB_SECRET not in repr(CsbAuth(signer))


def test_memory_nonce_cache_forgets_nonces_older_than_the_window() -> None:
    cache = MemoryNonceCache()
    assert not cache.seen_before("n1", now=NOW, window_seconds=300)
    assert cache.seen_before("n1", now=NOW + 10, window_seconds=300)
    assert not cache.seen_before("n1", now=NOW + 400, window_seconds=300)


def test_pooled_nonces_are_128_bit_hex_and_never_repeat() -> None:
    nonces = [new_nonce() for _ in range(1000)]  # crosses several blocks of the pool
    assert len(set(nonces)) == 1000
    assert all(len(nonce) == 32 and int(nonce, 16) >= 0 for nonce in nonces)


def test_a_forked_child_starts_a_fresh_nonce_block() -> None:
    pool = _NoncePool()
    before = pool.take()
    pool.reset()  # what os.register_at_fork runs in the child
    assert pool.take() != before
