"""MockGateway, the public face: in-process transport for sync and async clients,
the ledger readable through balance() and check()."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from gongji import ConfigError, Fen
from gongji.signing.tif import TifSigner
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.national.endpoint import PATH

SON = "210202198503170036"
MOTHER = "210202195809120046"


def envelope(infno: str, msgid: str, data: dict[str, object], sign_no: str = "") -> bytes:
    body = {
        "infno": infno,
        "msgid": msgid,
        "mdtrtarea_admvs": "210200",
        "insuplc_admdvs": "210200",
        "recer_sys_code": "POS",
        "dev_no": "",
        "dev_safe_info": "",
        "cainfo": "",
        "signtype": "",
        "infver": "V1.0",
        "opter_type": "1",
        "opter": "001",
        "opter_name": "收银员",
        "inf_time": "2026-11-23 09:00:00",
        "fixmedins_code": "H21020200001",
        "fixmedins_name": "大连测试药房",
        "sign_no": sign_no,
        "input": data,
    }
    return json.dumps(body, ensure_ascii=False).encode()


def sign_in(client: httpx.Client) -> str:
    signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
    body = envelope(
        "9001",
        "H2102020000120261123090000" + "0001",
        {"signIn": {"opter_no": "001", "mac": "00-1A-2B-3C-4D-5E", "ip": "192.168.1.20"}},
    )
    answer = client.post(PATH, content=body, headers=signer.headers()).json()
    assert answer["infcode"] == 0, answer
    return str(answer["output"]["signinoutb"]["sign_no"])


def test_demo_mock_answers_the_national_endpoint_in_process() -> None:
    mock = MockGateway.demo()
    with httpx.Client(transport=mock.transport(), base_url="http://mock.test") as client:
        sign_no = sign_in(client)
        body = envelope(
            "1101",
            "H2102020000120261123090000" + "0002",
            {
                "data": {
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": MOTHER,
                    "card_sn": "",
                    "psn_cert_type": "01",
                }
            },
            sign_no,
        )
        answer = client.post(
            PATH, content=body, headers=TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET).headers()
        ).json()
    assert answer["infcode"] == 0
    assert answer["output"]["baseinfo"]["psn_no"] == mock.psn_no(MOTHER)


async def _async_sign_in(mock: MockGateway) -> int:
    signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
    body = envelope(
        "9001",
        "H2102020000120261123090000" + "0003",
        {"signIn": {"opter_no": "001", "mac": "00-1A-2B-3C-4D-5E", "ip": "192.168.1.20"}},
    )
    async with httpx.AsyncClient(transport=mock.transport(), base_url="http://mock.test") as client:
        response = await client.post(PATH, content=body, headers=signer.headers())
    return int(response.json()["infcode"])


def test_the_same_transport_serves_an_async_client() -> None:
    import asyncio

    assert asyncio.run(_async_sign_in(MockGateway.demo())) == 0


def test_unknown_path_is_a_clear_404() -> None:
    with httpx.Client(
        transport=MockGateway.demo().transport(), base_url="http://mock.test"
    ) as client:
        response = client.get("/nowhere")
    assert response.status_code == 404
    assert "nowhere" in response.json()["message"]


def test_balance_and_check_read_the_ledger() -> None:
    mock = MockGateway.demo()
    assert mock.balance(SON) == Fen(500_000)
    assert mock.check() == []


def test_load_refuses_a_bad_dataset_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'policy = "liaoning-dalian-2025"\n[[person]]\nid_number = "123"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        MockGateway.load(path)


def test_repr_shows_no_person_data() -> None:
    assert repr(MockGateway.demo()) == "MockGateway(policy='demo-dalian', people=7)"


def test_a_protocol_mounted_on_a_prefix_serves_every_path_under_it() -> None:
    mock = MockGateway.demo()
    mock.mount("/v3/", lambda request: httpx.Response(200, text=f"wechat {request.url.path}"))
    mock.mount("/v3/med-ins/", lambda request: httpx.Response(200, text="med-ins"))
    with httpx.Client(transport=mock.transport(), base_url="http://mock.test") as client:
        assert (
            client.get("/v3/pay/transactions/out-trade-no/T1").text
            == "wechat /v3/pay/transactions/out-trade-no/T1"
        )
        assert client.get("/v3/med-ins/orders").text == "med-ins"
        assert client.get("/v2/x").status_code == 404
