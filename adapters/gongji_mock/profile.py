"""The ``mock`` profile: ``SettlementClient.from_profile("mock")`` with no configuration file.

Registered through ``gongji_register_profiles`` (``plugin.py``). In process, the city
gateway of the mock's policy and the two channels talk to the mock through its
transport; with ``url=``, to a mock ``gongji mock serve`` serves, over real HTTP, with
the test keys it hands out at ``GET {url}/gongji-admin/keys``
(docs/reference/mock-admin.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import httpx
import msgspec

import gongji.jsonwire as jsonwire
from gongji.errors import ConfigError
from gongji.gateways import PaymentChannel
from gongji.journal import MemoryJournal
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET, MockGateway
from gongji_mock.national.schema import DATA_NODES, PharmacyNodes
from gongji_mock.national.vouchers import MockVoucherDecoder
from gongji_mock.premium.endpoint import PREFIX as PREMIUM_PREFIX

__all__ = ["MOCK_CENTRE_URL", "MOCK_INSTITUTION", "MOCK_NOTIFY_URL", "mock_profile"]

#: The in-process mock's addresses; the host is never resolved (the transport is in process).
MOCK_CENTRE_URL = "http://centre.gongji-mock.invalid"
MOCK_INSTITUTION = ("H21020200001", "大连共济测试药房")
#: The pharmacist on duty there, as its sales uploads (3505) name her.
MOCK_PHARMACIST = ("李药师", "ZY210200001")
#: Where the channels are told to post their callbacks; in process the mock collects them.
MOCK_NOTIFY_URL = "https://pos.gongji-mock.invalid/notify"


#: Where the mock's premium channel answers, on the centre's address.
PREMIUM_PATH = PREMIUM_PREFIX.rstrip("/")

#: How long a till waits for a served mock's keys: it is on this machine, or nowhere.
MOCK_KEYS_TIMEOUT = httpx.Timeout(3.0)


def mock_profile(
    *, mock: MockGateway | None = None, url: str | None = None, till: int | None = None
) -> dict[str, Any]:
    """The ``mock`` profile's constructor arguments.

    Without ``url``: the in-process mock (``mock``, or the demo one), through its
    transport. With ``url``: a mock served by ``gongji mock serve`` at that address,
    over real HTTP, with the test keys it hands out at ``GET {url}/gongji-admin/keys``.
    ``till`` numbers the till (0-99) among several of one institution.
    """
    if url is not None:
        if mock is not None:
            raise ConfigError(
                "The mock profile takes either mock= (a mock in this process) or url= "
                "(a mock served over HTTP), not both.",
                next_step="Pass mock= to settle in process, or url= to settle against "
                "`gongji mock serve`.",
            )
        return _served_mock_arguments(url, till)
    if mock is not None and not isinstance(mock, MockGateway):
        raise ConfigError(
            f"The mock profile's mock= is a {type(mock).__name__}, not a gongji_mock.MockGateway.",
            next_step="Pass MockGateway.demo() or MockGateway.load('dataset.toml'), or leave "
            "mock= out for the demo mock.",
        )
    mock = mock if mock is not None else MockGateway.demo()
    policy = mock.centre.dataset.policy.id
    gateway = _mock_centre(
        MOCK_CENTRE_URL,
        policy,
        DEFAULT_PAASID,
        DEFAULT_TIF_SECRET,
        till,
        mock.extensions,
        mock.national.nodes,
    )
    return {
        "gateway": gateway,
        "channels": _ChannelsOnFirstUse(mock),
        "decoder": MockVoucherDecoder.at(MOCK_CENTRE_URL, MOCK_INSTITUTION[0]),
        "transport": mock.transport(),
        "policy": policy,
        # A rehearsal writes nothing to the user's home; pass journal= to keep one.
        "journal": MemoryJournal(),
    }


class _ChannelsOnFirstUse(Mapping[str, PaymentChannel]):
    """The in-process mock's WeChat Pay and Alipay channels, each made when first asked for:
    making one makes the mock's side of it, test keys and all, which a preview never needs."""

    def __init__(self, mock: MockGateway) -> None:
        self._mock = mock
        self._made: dict[str, PaymentChannel] = {}

    def __getitem__(self, kind: str) -> PaymentChannel:
        if kind not in self._made:
            from gongji_alipay import AlipayChannel
            from gongji_wechatpay import WechatPayChannel

            if kind == "wechatpay":
                self._made[kind] = WechatPayChannel.for_mock(
                    self._mock.wechatpay, refund_notify_url=MOCK_NOTIFY_URL
                )
            elif kind == "alipay":
                self._made[kind] = AlipayChannel.for_mock(
                    self._mock.alipay, notify_url=MOCK_NOTIFY_URL
                )
            else:
                raise KeyError(kind)
        return self._made[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(("wechatpay", "alipay"))

    def __len__(self) -> int:
        return 2


class _TifCaller(msgspec.Struct, frozen=True, kw_only=True):
    paasid: str
    secret: str

    def __repr__(self) -> str:
        return f"_TifCaller(paasid={self.paasid!r}, secret=<hidden>)"


class _WechatPayKeys(msgspec.Struct, frozen=True, kw_only=True):
    mchid: str
    appid: str
    merchant_serial_no: str
    merchant_private_key: str  # PEM
    platform_public_key_id: str
    platform_public_key: str  # PEM
    apiv3_key: str

    def __repr__(self) -> str:
        return f"_WechatPayKeys(mchid={self.mchid!r}, <keys hidden>)"


class _AlipayKeys(msgspec.Struct, frozen=True, kw_only=True):
    app_id: str
    app_private_key: str  # PEM
    alipay_public_key: str  # PEM

    def __repr__(self) -> str:
        return f"_AlipayKeys(app_id={self.app_id!r}, <keys hidden>)"


class _ServedMockKeys(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /gongji-admin/keys`` of a served mock (docs/reference/mock-admin.md); other
    fields are tolerated."""

    policy: str
    tif: _TifCaller
    wechatpay: _WechatPayKeys
    alipay: _AlipayKeys

    def __repr__(self) -> str:
        return f"_ServedMockKeys(policy={self.policy!r}, <keys hidden>)"


def _mock_centre(
    base_url: str,
    policy: str,
    paasid: str,
    secret: str,
    till: int | None,
    extensions: bool = False,
    nodes: PharmacyNodes = DATA_NODES,
) -> CityInsuranceGateway:
    """The mock's insurance centre, as the city gateway of the mock's policy sees it: with
    gongji's extensions where the mock was started with them (bindings known at the till),
    else the interface of NATIONAL.md only, as against a real centre; and 2101/2102 in the
    mock's region's ``nodes``."""
    city = next((c for c in CITIES.values() if c.policy == policy), CITIES["dalian"])
    return CityInsuranceGateway(
        # The mock runs a premium channel of its own (gongji_mock.premium); real cities do not.
        profile=attrs.evolve(
            city,
            base_url=base_url,
            policy=policy,
            premium_url=PREMIUM_PATH,
            extensions=extensions,
            pharmacy_nodes="druginfo" if nodes.header == "druginfo" else "data",
            trace_codes_on_lines=nodes.trace_codes,
        ),
        institution=Institution(
            code=MOCK_INSTITUTION[0],
            name=MOCK_INSTITUTION[1],
            till=till,
            pharmacist=MOCK_PHARMACIST[0],
            pharmacist_cert_no=MOCK_PHARMACIST[1],
        ),
        auth=TifAuth(TifSigner(paasid, secret)),
    )


def _served_mock_arguments(url: str, till: int | None) -> dict[str, Any]:
    """The mock profile against ``gongji mock serve`` at ``url``: real HTTP, its test keys."""
    # Imported here: the in-process mock, the common case, makes its channels on first use.
    from gongji.signing.alipay import AlipaySigner, AlipayVerifier
    from gongji.signing.alipay_certs import AlipayPublicKeys
    from gongji.signing.keys import load_private_key, load_public_key
    from gongji.signing.wechatpay import WechatPayMerchant
    from gongji.signing.wechatpay_keys import PlatformKeyStore
    from gongji_alipay import AlipayChannel
    from gongji_alipay.gateway import DEFAULT_BASE_URL as ALIPAY_URL
    from gongji_wechatpay import WechatPayChannel

    base = url.rstrip("/")
    keys = _fetch_served_mock_keys(base)
    gateway = _mock_centre(base, keys.policy, keys.tif.paasid, keys.tif.secret, till)
    wx, ali = keys.wechatpay, keys.alipay
    # No notify URLs: a served mock POSTs callbacks only where --notify-url tells it.
    channels = {
        "wechatpay": WechatPayChannel(
            merchant=WechatPayMerchant(
                mchid=wx.mchid,
                serial_no=wx.merchant_serial_no,
                private_key=load_private_key(wx.merchant_private_key),
            ),
            platform=PlatformKeyStore(
                public_keys={wx.platform_public_key_id: load_public_key(wx.platform_public_key)}
            ),
            apiv3_key=wx.apiv3_key,
            appid=wx.appid,
            base_url=base,
        ),
        "alipay": AlipayChannel(
            signer=AlipaySigner(
                app_id=ali.app_id, private_key=load_private_key(ali.app_private_key)
            ),
            verifier=AlipayVerifier(
                AlipayPublicKeys(public_key=load_public_key(ali.alipay_public_key))
            ),
            # Alipay's base URL is the gateway's full address: the mock serves Alipay's path.
            base_url=base + httpx.URL(ALIPAY_URL).path,
        ),
    }
    return {
        "gateway": gateway,
        "channels": channels,
        "decoder": MockVoucherDecoder.at(base, MOCK_INSTITUTION[0]),
        "policy": keys.policy,
        "journal": MemoryJournal(),
    }


def _fetch_served_mock_keys(base: str) -> _ServedMockKeys:
    """``GET {base}/gongji-admin/keys``, with one short-lived client and a short timeout."""
    try:
        parsed = httpx.URL(base)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"The mock's url {base[:80]!r} is not an http(s) URL.",
            next_step="Give the address `gongji mock serve` printed, e.g. http://127.0.0.1:8930.",
        )
    # Never the whole URL in an error: it could carry a user and password.
    where = f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
    try:
        with httpx.Client(timeout=MOCK_KEYS_TIMEOUT) as http:
            response = http.get(f"{base}/gongji-admin/keys")
    except httpx.HTTPError as error:
        raise ConfigError(
            f"No gongji mock answers at {where} ({type(error).__name__}); "
            "its test keys could not be fetched.",
            next_step="Start one with `gongji mock serve` (its first line says where it "
            "listens) and pass that URL, or leave url out to use a mock in this process.",
        ) from None
    if response.status_code != 200:
        raise ConfigError(
            f"{where} answered GET /gongji-admin/keys with HTTP {response.status_code}: "
            "it is not a gongji mock, or one too old to hand out its keys.",
            next_step="Check the URL (the one `gongji mock serve` printed), and run a mock of "
            "this gongji version.",
        )
    try:
        return jsonwire.decode(response.content, type=_ServedMockKeys)
    except msgspec.DecodeError as error:  # ValidationError included; neither repeats a value
        raise ConfigError(
            f"{where} answered GET /gongji-admin/keys with something other than a gongji "
            f"mock's keys ({str(error)[:120]}).",
            next_step="Run a mock of this gongji version at that address.",
        ) from None
