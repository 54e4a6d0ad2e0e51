"""The gateway in front of the mock's national endpoint: TIF, or CSB where a city signs with it.

A city's profile names its gateway (``signing = "tif"`` or ``"csb"``), and the till
signs accordingly. The mock stands in for both: a request carrying the CSB headers
(``_api_*``, Jiangsu style) is checked as CSB, with the access keys the mock knows;
any other as TIF. Either way nothing is read before the signature has verified, and
a failure is the same HTTP 401.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import httpx

from gongji.signing._common import NonceCache, check_replay
from gongji.signing.csb import API_ACCESS_KEY, API_SIGNATURE, request_params, verify_csb_request
from gongji.signing.tif import verify_tif_headers


def signed_with_csb(request: httpx.Request) -> bool:
    """Whether the request carries the CSB gateway's headers (and is checked as CSB)."""
    return API_SIGNATURE in request.headers or API_ACCESS_KEY in request.headers


def verify_gateway(
    request: httpx.Request,
    *,
    tif_secrets: Mapping[str, str],
    csb_secrets: Mapping[str, str],
    now: float,  # float-ok: unix seconds, a time not money
    tolerance_seconds: int,
    nonce_cache: NonceCache,
) -> None:
    """Check the gateway signature of ``request``; ``SignatureError`` otherwise."""
    if signed_with_csb(request):
        verify_csb_request(
            request.headers,
            request_params(request),
            secrets_by_access_key=csb_secrets,
            now=now,
            tolerance_seconds=tolerance_seconds,
        )
        # CSB signs neither a nonce nor the body: two different messages sent within one
        # millisecond share a signature. A replay is the same signature with the same body.
        body = hashlib.sha256(request.content).hexdigest()
        check_replay(
            nonce_cache,
            f"{request.headers[API_SIGNATURE]}:{body}",
            now=now,
            window_seconds=tolerance_seconds,
            what="The CSB request",
        )
        return
    verify_tif_headers(
        request.headers,
        secrets_by_paasid=tif_secrets,
        now=now,
        tolerance_seconds=tolerance_seconds,
        nonce_cache=nonce_cache,
    )
