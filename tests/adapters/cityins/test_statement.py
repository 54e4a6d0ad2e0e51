"""Reconciliation on the national wire (gongji_cityins.statement): the four requests gongji
builds are what NATIONAL.md §10 lists (checked against the mock's tables, field by field
like the golden messages), and the decoders read the answers real centres send: ``stmtinfo``
only, ``infcode`` as text, result files zipped or not, with CRLF, ``""`` and negative
amounts, in another encoding, and a refusal where a file was expected."""

from __future__ import annotations

import base64
import datetime
import io
import json
import zipfile
from typing import Any

import attrs
import httpx
import pytest
import respx

from gongji import ConfigError, Credential, Declined, Fen, UntrustedAnswer
from gongji.client import drive
from gongji.gateways import Clearing, SettlementRequest, StatementLine
from gongji.model import Insurance, Person, Setting
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from gongji_cityins.statement import (
    StatementFormat,
    clearing_of,
    details_file,
    differences_from,
    is_file,
    upload_input,
)
from gongji_mock.national.schema import check_request
from tests.national.messages import FILES, answer, answer_bytes, request

URL = "https://centre.test/fsi/api/rsfComIfsService/callService"
DAY = datetime.date(2026, 11, 24)
EMPLOYEE = Clearing(insutype="310", clr_type="41", setl_optins="210200")
MOTHER = "210202195809120046"


def gateway(form: StatementFormat | None = None) -> CityInsuranceGateway:
    profile = attrs.evolve(
        CITIES["dalian"], base_url="https://centre.test", statement=form or StatementFormat()
    )
    return CityInsuranceGateway(
        profile=profile,
        institution=Institution(code="H21020200001", name="大连共济测试药房"),
        auth=TifAuth(TifSigner("POS01", "s3cret")),
    )


def line(n: int, total: int = 3_731, fund: int = 1_000, own: int = 2_731) -> StatementLine:
    return StatementLine(
        setl_id=f"SETL2026112400000{n}",
        mdtrt_id=f"MDT2026112400000{n}",
        psn_no=f"2102000000000000004{n}",
        total=Fen(total),
        fund=Fen(fund),
        own_account=Fen(own),
        mutual_aid=Fen(0),
        cash=Fen(total - fund - own),
        clearing=EMPLOYEE,
    )


def centre(*answers: bytes | dict[str, Any]) -> tuple[httpx.Client, list[dict[str, Any]]]:
    """A centre that signs in, then answers ``answers`` in turn: an envelope's bytes, an
    output (wrapped in an envelope), or a file's bytes."""
    router = respx.Router()
    sent: list[dict[str, Any]] = []
    signed_in = {"infcode": 0, "output": {"signinoutb": {"sign_no": "SIGN1"}}}
    queue = iter([json.dumps(signed_in).encode(), *answers])

    def answer_next(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        found = next(queue)
        if isinstance(found, dict):
            found = json.dumps({"infcode": 0, "output": found}, ensure_ascii=False).encode()
        return httpx.Response(200, content=found)

    router.post(URL).mock(side_effect=answer_next)
    return httpx.Client(transport=httpx.MockTransport(router.handler)), sent


def zipped(text: bytes, name: str = "result.txt") -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr(name, text)
    return packed.getvalue()


# ---------------------------------------------------------------- the requests


def test_3201_goes_per_clearing_group_as_national_md_lists_it() -> None:
    client, sent = centre(answer("3201-balanced")["output"])
    lines = [line(1), line(2, total=10_000, fund=6_000, own=4_000)]
    verdict = drive(gateway().day_totals(DAY, EMPLOYEE, lines), client)
    message = sent[1]
    assert check_request("3201", message) == []
    assert message["input"] == {
        "data": {
            "insutype": "310",
            "clr_type": "41",
            "setl_optins": "210200",
            "stmt_begndate": "2026-11-24",
            "stmt_enddate": "2026-11-24",
            "medfee_sumamt": "137.31",
            "fund_pay_sumamt": "70.00",
            "acct_pay": "67.31",
            "fixmedins_setl_cnt": 2,
            "refd_setl_flag": "0",
        }
    }
    assert set(message["input"]["data"]) == set(request("3201")["input"]["data"])
    assert (verdict.agreed, verdict.count, verdict.total) == (True, 2, Fen(13_731))
    assert verdict.description == "对账平"


@pytest.mark.parametrize(
    ("name", "agreed"), [("3201-balanced", True), ("3201-not-balanced", False)]
)
def test_3201_is_read_from_stmtinfo_alone(name: str, agreed: bool) -> None:
    client, _ = centre(answer_bytes(name))
    assert drive(gateway().day_totals(DAY, EMPLOYEE, [line(1)]), client).agreed is agreed


def test_a_3201_code_gongji_does_not_know_is_no_verdict() -> None:
    client, _ = centre({"stmtinfo": {"stmt_rslt": "9", "stmt_rslt_dscr": "待对账"}})
    verdict = drive(gateway().day_totals(DAY, EMPLOYEE, [line(1)]), client)
    assert verdict.agreed is None and verdict.result == "9"


def test_3202_uploads_the_file_names_it_and_downloads_the_result() -> None:
    result = (FILES / "3202-result.txt.zip").read_bytes()
    client, sent = centre(answer_bytes("9101-uploaded"), answer_bytes("3202-fileinfo"), result)
    lines = [line(1), line(2)]
    found = drive(gateway().day_details(DAY, "210200", lines), client)
    upload, details, download = sent[1:]
    for message in (upload, details, download):
        assert check_request(message["infno"], message) == [], message["infno"]
        golden = request(message["infno"])["input"]
        [node] = golden
        assert set(message["input"][node]) == set(golden[node])
    assert (
        details["input"]["data"]["file_qury_no"]
        == answer("9101-uploaded")["output"]["file_qury_no"]
    )
    assert details["input"]["data"] | {"file_qury_no": ""} == {
        "setl_optins": "210200",
        "file_qury_no": "",
        "stmt_begndate": "2026-11-24",
        "stmt_enddate": "2026-11-24",
        "medfee_sumamt": "74.62",
        "fund_pay_sumamt": "20.00",
        "cash_payamt": "0.00",
        "fixmedins_setl_cnt": 2,
    }
    fileinfo = answer("3202-fileinfo")["output"]["fileinfo"]
    assert download["input"]["fsDownloadIn"] == {
        "file_qury_no": fileinfo["file_qury_no"],
        "filename": fileinfo["filename"],
        "fixmedins_code": "H21020200001",
    }
    assert [d.setl_id for d in found] == [
        "SETL20261124000001",
        "SETL20261124000002",
        "SETL20261124000009",
    ]


def test_the_details_file_is_one_settlement_a_line_tab_separated_and_zipped() -> None:
    name, content = details_file(DAY, "210200", [line(1), line(2)], StatementFormat(), "H1")
    assert name == "H1_210200_20261124_3202.txt.zip"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        [member] = archive.namelist()
        text = archive.read(member).decode()
    assert member == "H1_210200_20261124_3202.txt"
    assert text.splitlines() == [
        "SETL20261124000001\tMDT20261124000001\t21020000000000000041\t37.31\t10.00\t27.31\t0",
        "SETL20261124000002\tMDT20261124000002\t21020000000000000042\t37.31\t10.00\t27.31\t0",
    ]
    again = details_file(DAY, "210200", [line(1), line(2)], StatementFormat(), "H1")
    assert again == (name, content)  # the same lines make the same file


def test_a_region_may_send_the_file_plain_with_its_separator_and_as_a_byte_array() -> None:
    form = StatementFormat(zipped=False, separator="|", file_bytes="byte_array")
    name, content = details_file(DAY, "210200", [line(1)], form, "H1")
    assert name.endswith(".txt") and content.decode().count("|") == 6
    carried = upload_input(content, name, "H1", form)["fsUploadIn"]["in"]
    assert carried == list(content)
    default = upload_input(content, name, "H1", StatementFormat())["fsUploadIn"]["in"]
    assert base64.b64decode(default) == content


# ---------------------------------------------------------------- the centre's result file


def test_a_result_file_is_read_zipped_with_crlf_and_empty_and_negative_amounts() -> None:
    found = differences_from((FILES / "3202-result.txt.zip").read_bytes(), StatementFormat())
    differs, gone, refunded = found
    assert (differs.total, differs.fund, differs.own_account) == (
        Fen(3_731),
        Fen(1_000),
        Fen(2_731),
    )
    assert differs.msgid == "H21020200001202611240035000101" and differs.memo == "金额不符"
    assert (gone.total, gone.fund, gone.own_account) == (None, None, None)
    assert refunded.refunded and refunded.total == Fen(-1_200) and refunded.result == "2"


def test_a_result_file_in_the_regions_encoding_and_unzipped_is_read_the_same() -> None:
    zipped_utf8 = differences_from((FILES / "3202-result.txt.zip").read_bytes(), StatementFormat())
    gbk = differences_from(
        (FILES / "3202-result-gbk.txt").read_bytes(), StatementFormat(encoding="gbk")
    )
    assert gbk == zipped_utf8


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"only\ttwo\n", "has 2 fields, not 10"),
        (zipped(b"P\tM\t\tmsg\t1\t0\tmemo\t1\t1\t1\n"), "names no settlement"),
        (zipped(b"P\tM\tS\tmsg\t1\t0\tmemo\t1.005\t1\t1\n"), "not a whole"),
        (zipped(b"P\tM\tS\tmsg\t1\t0\tmemo\tabc\t1\t1\n"), "not a number"),
        (b"PK\x03\x04damaged", "damaged zip"),
    ],
)
def test_a_result_file_gongji_cannot_trust_is_refused_saying_so(content: bytes, words: str) -> None:
    with pytest.raises(UntrustedAnswer, match=words):
        differences_from(content, StatementFormat())


def test_a_refused_download_is_declined_with_the_centres_words() -> None:
    assert not is_file(answer_bytes("9102-refused"))
    assert is_file(b"PK\x03\x04") and is_file(b"SETL1\t...") and is_file(b'{"not": "an envelope"}')
    client, _ = centre(
        answer_bytes("9101-uploaded"), answer_bytes("3202-fileinfo"), answer_bytes("9102-refused")
    )
    with pytest.raises(Declined, match="文件查询号不存在"):
        drive(gateway().day_details(DAY, "210200", [line(1)]), client)


def test_a_memo_with_an_id_number_is_masked() -> None:
    row = f"P\tM\tS1\tmsg\t1\t0\t身份证{MOTHER}不符\t1.00\t1.00\t0.00\n".encode()
    client, _ = centre(answer_bytes("9101-uploaded"), answer_bytes("3202-fileinfo"), zipped(row))
    [found] = drive(gateway().day_details(DAY, "210200", [line(1)]), client)
    assert MOTHER not in found.memo and "不符" in found.memo


# ---------------------------------------------------------------- region settings


def test_a_settlement_is_cleared_under_the_centres_answer_else_what_was_sent() -> None:
    request = SettlementRequest(
        psn_no="P1",
        patient=Person(
            id=MOTHER, name="王秀兰", insurance=Insurance(kind="resident", region="210202")
        ),
        credential=Credential.id_card(MOTHER),
        items=(),
        setting=Setting.OUTPATIENT,
    )
    form = StatementFormat(outpatient_clr_type="12")
    assert clearing_of("310", "11", "210500", request, form, "210200") == Clearing(
        "310", "11", "210500"
    )
    assert clearing_of("", "", "", request, form, "210200") == Clearing("390", "12", "210200")


@pytest.mark.parametrize(
    "settings",
    [
        {"upload_columns": ("setl_id", "gongji_total")},
        {"result_columns": ("psn_no", "memo")},
        {"separator": "\n"},
        {"separator": ""},
    ],
)
def test_file_settings_gongji_cannot_use_are_refused_when_configured(
    settings: dict[str, Any],
) -> None:
    with pytest.raises(ConfigError, match=r"statement|reconciliation"):
        StatementFormat(**settings)


def test_a_config_file_sets_the_regions_statement_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GONGJI_TEST_STATEMENT_SECRET", "s3cret")
    settings: dict[str, Any] = {
        "city": "dalian",
        "institution_code": "H21020200001",
        "paasid": "POS01",
        "secret_env": "GONGJI_TEST_STATEMENT_SECRET",
        "statement": {"separator": "|", "zipped": False, "encoding": "gbk"},
    }
    found = CityInsuranceGateway.from_settings(settings).profile.statement
    assert found == StatementFormat(separator="|", zipped=False, encoding="gbk")
    settings["statement"] = {"result_columns": ["setl_id", "medfee_sumamt"]}
    found = CityInsuranceGateway.from_settings(settings).profile.statement
    assert found.result_columns == ("setl_id", "medfee_sumamt")
    for wrong in ({"zipped": "yes"}, {"colour": "red"}, {"file_bytes": "hex"}, "tab"):
        settings["statement"] = wrong
        with pytest.raises(ConfigError, match=r"gateway\.statement"):
            CityInsuranceGateway.from_settings(settings)
