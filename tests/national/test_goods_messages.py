"""Golden messages of issue 14's goods side: 1101 with each credential type, 3505 and 3506
as gongji_cityins builds them, checked against the mock's tables of NATIONAL.md; and the
national-terminal e-voucher decoder fed answers in the shape of S9."""

from __future__ import annotations

import datetime
import json
from collections.abc import Generator, Iterator
from typing import Any, TypeVar

import attrs
import httpx
import msgspec
import pytest

from gongji import ConfigError, Credential, Declined, Fen, InvalidInput, LineItem
from gongji.clock import BEIJING
from gongji.gateways import CentreSettlement, SettlementRequest
from gongji.gateways.exchange import Flow
from gongji.model import Insurance, Person
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from gongji_cityins.voucher import NationalTerminalDecoder, TerminalSettings
from gongji_mock.national.schema import check_request
from tests.national.messages import PACKS

SISTER = "210502198802200422"
AT = datetime.datetime(2026, 11, 24, 9, 30, tzinfo=BEIJING)
OUTPUT: dict[str, Any] = {
    "1101": {"baseinfo": {"psn_no": "P1", "certno": SISTER}, "insuinfo": []},
    "9001": {"signinoutb": {"sign_no": "S1"}},
}


def gateway(pharmacist_cert_no: str = "ZY210200001") -> CityInsuranceGateway:
    return CityInsuranceGateway(
        profile=CITIES["dalian"],
        institution=Institution(
            code="H21020200001",
            name="大连共济测试药房",
            pharmacist="李药师",
            pharmacist_cert_no=pharmacist_cert_no,
        ),
        auth=TifAuth(TifSigner("p", "s")),
        clock=lambda: AT,
    )


def sent(flow: Flow[Any]) -> Iterator[dict[str, Any]]:
    """Drive a gateway flow with success answers; every request's JSON body."""
    try:
        step = next(flow)
        while True:
            body = json.loads(step.content)
            yield body
            answer = {"infcode": 0, "output": OUTPUT.get(body["infno"], {})}
            step = flow.send(httpx.Response(200, content=msgspec.json.encode(answer)))
    except StopIteration:
        return


# ---------------------------------------------------------------- 1101, each credential type

CREDENTIALS = {
    "01": Credential.e_voucher_token(
        "340000fecc71patvaifa9f420a00007b7247f3", holder=SISTER, region="210500"
    ),
    "02": Credential.id_card(SISTER),
    "03": Credential.social_card(
        "21000012", card_sn="A1B2C3D4E5F6", region="210500", holder=SISTER
    ),
}


@pytest.mark.parametrize("cert_type", sorted(CREDENTIALS))
def test_1101_with_each_credential_type_is_what_a_centre_accepts(cert_type: str) -> None:
    credential = CREDENTIALS[cert_type]
    (person_info,) = [b for b in sent(gateway().person(credential)) if b["infno"] == "1101"]
    assert check_request("1101", person_info) == []
    data = person_info["input"]["data"]
    assert data["mdtrt_cert_type"] == cert_type
    assert (
        data["mdtrt_cert_no"] == {"01": credential.value, "02": SISTER, "03": "21000012"}[cert_type]
    )
    assert (data.get("card_sn") == "A1B2C3D4E5F6") is (cert_type == "03")


def test_an_undecoded_qr_text_never_reaches_1101() -> None:
    with pytest.raises(ConfigError, match="undecoded"):
        list(sent(gateway().person(Credential.e_voucher("GJQRZXYtdG9rZW4"))))


# ---------------------------------------------------------------- 3505 / 3506


def sale() -> tuple[SettlementRequest, CentreSettlement]:
    patient = Person(SISTER, "张丽", Insurance("employee", region="210500"))
    item = LineItem(
        code="XJ01CAA040A001010100445",
        name="阿莫西林胶囊",
        unit_price=Fen(1_250),
        quantity=2,
        packs=PACKS,
    )
    plain = LineItem(code="XB01", name="棉签", unit_price=Fen(300), quantity=1)
    request = SettlementRequest(
        psn_no="P1", patient=patient, credential=CREDENTIALS["02"], items=(plain, item)
    )
    settlement = CentreSettlement(
        setl_id="SETL1",
        mdtrt_id="M1",
        msgid="m",
        total=Fen(2_800),
        fund=Fen(0),
        own_account=Fen(2_800),
        mutual_aid=(),
        cash=Fen(0),
    )
    return request, settlement


T = TypeVar("T")


def at_once(flow: Generator[object, object, T]) -> T:
    """A flow that asks for no step (the msgids of a memory journal): its result."""
    try:
        next(flow)
    except StopIteration as stop:
        result: T = stop.value
        return result
    raise AssertionError("the flow asked for a step")


def test_3505_and_3506_are_what_a_centre_accepts_and_carry_each_packs_code() -> None:
    city = gateway()
    request, settlement = sale()
    sold = at_once(city.sale_uploads(request, settlement, "POS01-0001", AT))
    assert [u.infno for u in sold] == ["3505"]  # one message for the one line with packs
    returned = at_once(city.return_uploads(sold, "POS01-0001", AT + datetime.timedelta(hours=1)))
    for upload in (*sold, *returned):
        (body,) = [b for b in sent(city.upload(upload)) if b["infno"] == upload.infno]
        assert check_request(upload.infno, body) == []
        line = body["input"]["selinfo"]
        assert [c["drug_trac_codg"] for c in line["drug_trac_info"]] == list(PACKS.codes)
        assert {c["feedetl_sn"] for c in line["drug_trac_info"]} == {"2"}  # the line's number
        assert line["setl_id"] == "SETL1" and body["insuplc_admdvs"] == "210500"
        assert SISTER not in json.dumps(body)  # the payload is journaled: no ID number
    assert {u.msgid for u in sold} & {u.msgid for u in returned} == set()


def test_3505_names_the_national_code_and_the_pharmacys_own_code_apart() -> None:
    city = gateway()
    request, settlement = sale()
    item = attrs.evolve(request.items[1], code="SKU-AMX-24", national_code=request.items[1].code)
    request = attrs.evolve(request, items=(request.items[0], item))
    (upload,) = at_once(city.sale_uploads(request, settlement, "POS01-0001", AT))
    (body,) = [b for b in sent(city.upload(upload)) if b["infno"] == "3505"]
    line = body["input"]["selinfo"]
    assert (line["med_list_codg"], line["fixmedins_hilist_id"]) == (
        "XJ01CAA040A001010100445",
        "SKU-AMX-24",
    )


@pytest.mark.parametrize("missing", ["batch", "lot", "made_on"])
def test_a_line_without_the_stock_facts_its_sales_upload_needs_is_refused_before_the_sale(
    missing: str,
) -> None:
    request, _ = sale()
    traced = request.items[1]
    assert traced.packs is not None
    packs = attrs.evolve(traced.packs, **{missing: None if missing == "made_on" else ""})
    request = attrs.evolve(request, items=(request.items[0], attrs.evolve(traced, packs=packs)))
    with pytest.raises(InvalidInput, match=f"3505.*{missing} not given") as refused:
        next(gateway().pre_settle(request))  # refused before the first message is built
    assert "nothing was sent" in refused.value.next_step


def test_a_sale_whose_packs_would_be_uploaded_without_a_pharmacist_certificate_is_refused_first() -> (
    None
):
    city = gateway(pharmacist_cert_no="")
    request, _ = sale()
    with pytest.raises(ConfigError, match="practice certificate") as refused:
        next(city.pre_settle(request))  # refused before the first message is built
    assert "nothing was sent" in refused.value.next_step
    plain = attrs.evolve(request, items=request.items[:1])  # no packs: nothing to upload
    assert json.loads(next(city.pre_settle(plain)).content)["infno"] == "9001"


# ---------------------------------------------------------------- the e-voucher decoder


def decode(answer: bytes) -> Any:
    decoder = NationalTerminalDecoder(TerminalSettings(url="http://127.0.0.1:9/ec", org_id="H1"))
    flow = decoder.decode("QRTEXT")
    request = next(flow)
    body = json.loads(request.content)
    assert body["transType"] == "ec.query" and body["data"]["ecQrCode"] == "QRTEXT"
    assert body["data"]["orgId"] == "H1" and body["data"]["businessType"] == "01301"
    try:
        flow.send(httpx.Response(200, content=answer))
    except StopIteration as done:
        return done.value
    raise AssertionError("the decode asked for more")


S9 = (
    '{"code":%s,"data":{"authNo":"ano1","birthday":null,"chnlId":null,"ecIndexNo":"F9",'
    '"ecQrCode":null,"ecToken":"340000fecc71patvaifa9f420a00007b7247f3","email":null,'
    '"gender":null,"idNo":"210502198802200422","idType":"01","insuOrg":"210500",'
    '"nationality":null,"userName":"张丽"},"message":"成功","orgId":"H1"}'
)


@pytest.mark.parametrize("code", ["0", '"0"'], ids=["number", "string"])
def test_the_decoder_reads_a_real_shaped_answer(code: str) -> None:
    found = decode((S9 % code).encode())
    credential = found.credential()
    assert credential.value.startswith("340000") and credential.ready
    assert credential.id_number == SISTER and credential.region == "210500"
    assert "340000" not in repr(found)


def test_the_decoder_refuses_with_the_services_words_and_no_id_number() -> None:
    answer = '{"code":-1,"message":"二维码已过期 210502198802200422"}'.encode()
    with pytest.raises(Declined, match="二维码已过期") as refused:
        decode(answer)
    assert SISTER not in str(refused.value)
