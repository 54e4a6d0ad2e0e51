"""What the dashboard reads, in process: the recent requests with their verdicts (bounded,
masked), the ledger newest first, the one-answer snapshot, faults switched off one by one,
and the page's files served from the package."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from gongji import Cash, ConfigError, SettlementClient, Unavailable
from gongji.errors import GongjiError
from gongji_mock import MockGateway
from gongji_mock.faults import Faults
from gongji_mock.recent import RecentRequests, scrub
from gongji_mock.server.admin import AdminEndpoint
from gongji_mock.server.dashboard import static_file
from tests.client.conftest import FAST_POLLING, MOTHER, SON, WECHAT_PAID, purchase

NOT_INSURED = "110101199003070011"  # a valid ID number the demo centre does not know
FULL_ID_OR_CODE = re.compile(r"(?<![0-9])[0-9]{15,}[0-9X]?(?![0-9])")


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture
def admin(mock: MockGateway) -> Iterator[httpx.Client]:
    with httpx.Client(transport=mock.transport(), base_url="http://mock.test") as client:
        yield client


@pytest.fixture
def till(mock: MockGateway) -> Iterator[SettlementClient]:
    with SettlementClient.from_profile("mock", mock=mock, polling=FAST_POLLING) as client:
        yield client


def requests_of(admin: httpx.Client, **params: str) -> list[dict[str, object]]:
    answer = admin.get("/gongji-admin/requests", params=params)
    assert answer.status_code == 200
    records: list[dict[str, object]] = answer.json()["requests"]
    return records


def test_each_protocol_request_is_noted_newest_first_with_its_verdict(
    admin: httpx.Client, till: SettlementClient
) -> None:
    till.settle(purchase(MOTHER), key="DASH-0001", cash=Cash.wechat(WECHAT_PAID))
    records = requests_of(admin)
    numbers = [r["number"] for r in records]
    assert numbers == sorted(numbers, reverse=True)
    oldest_first = [(r["target"], r["code"]) for r in reversed(records)]
    assert oldest_first[0] == ("national", "9001")  # sign-in first
    assert ("national", "2102") in oldest_first
    assert ("wechatpay", "/v3/pay/transactions/codepay") in oldest_first
    assert {r["verdict"] for r in records} == {"answered"}
    settle = next(r for r in records if r["code"] == "2102")
    assert (settle["status"], settle["result"], settle["faults"]) == (200, "infcode 0", [])


def test_a_refusal_is_declined_with_the_gateways_own_words(
    admin: httpx.Client, till: SettlementClient
) -> None:
    with pytest.raises(GongjiError):
        till.settle(purchase(NOT_INSURED), key="DASH-0002")
    refused = next(r for r in requests_of(admin) if r["code"] == "1101")
    assert (refused["verdict"], refused["result"]) == ("declined", "infcode -1")
    assert refused["message"]  # the centre's words, as the POS received them
    # Unsigned, the TIF gateway refuses before reading the body: HTTP 401, its err_msg.
    admin.post("/fsi/api/rsfComIfsService/callService", content=b"{}")
    unsigned = requests_of(admin, limit="1")[0]
    assert (unsigned["verdict"], unsigned["status"], unsigned["result"]) == (
        "declined",
        401,
        "HTTP 401",
    )
    assert "no x-tif-paasid header" in str(unsigned["message"])


def test_a_fault_is_noted_on_the_request_it_hit(
    admin: httpx.Client, till: SettlementClient, mock: MockGateway
) -> None:
    mock.faults.add("timeout_before_commit", target="national", code="2102", times=1)
    with pytest.raises(Unavailable):
        till.settle(purchase(MOTHER), key="DASH-0003", cash=Cash.wechat(WECHAT_PAID))
    lost = next(r for r in requests_of(admin) if r["code"] == "2102")
    assert (lost["verdict"], lost["status"], lost["faults"]) == (
        "no_answer",
        None,
        ["timeout_before_commit"],
    )
    mock.faults.add("error_5xx", target="wechatpay", times=1)
    admin.post("/v3/pay/transactions/codepay", content=b"{}")
    failed = requests_of(admin, limit="1")[0]
    assert (failed["verdict"], failed["status"], failed["faults"]) == (
        "failed",
        503,
        ["error_5xx"],
    )


def test_a_path_the_mock_does_not_serve_is_noted_as_declined(admin: httpx.Client) -> None:
    admin.get("/nowhere")
    [record] = requests_of(admin)
    assert (record["target"], record["code"], record["verdict"]) == ("*", "/nowhere", "declined")


def test_admin_calls_and_the_page_are_not_noted(admin: httpx.Client) -> None:
    for path in ("/", "/dashboard/dashboard.js", "/gongji-admin/state", "/gongji-admin/dashboard"):
        assert admin.get(path).status_code == 200
    assert admin.get("/gongji-admin/requests").json()["total"] == 0


def test_recent_requests_keep_only_the_newest() -> None:
    recent = RecentRequests(size=3)
    request = httpx.Request("GET", "http://mock.test/nowhere")
    for _ in range(5):
        recent.record(request, "*", "/nowhere", httpx.Response(404))
    assert recent.total == 5
    assert [r.number for r in recent.records()] == [5, 4, 3]
    assert [r.number for r in recent.records(limit=1)] == [5]


def test_free_text_loses_every_full_id_number_and_payment_code() -> None:
    text = f"person {SON} paid with {WECHAT_PAID} and 2887654321012341"
    scrubbed = scrub(text)
    assert SON not in scrubbed and WECHAT_PAID not in scrubbed
    assert "2887654321012341" not in scrubbed
    assert "210202********0036" in scrubbed


def test_nothing_the_dashboard_reads_holds_a_full_id_or_payment_code(
    admin: httpx.Client, till: SettlementClient
) -> None:
    till.settle(purchase(MOTHER), key="DASH-0004", cash=Cash.wechat(WECHAT_PAID))
    with pytest.raises(GongjiError):
        till.settle(purchase(NOT_INSURED), key="DASH-0005")
    text = admin.get("/gongji-admin/dashboard").text
    for secret in (SON, MOTHER, NOT_INSURED, WECHAT_PAID, "gongji-mock-tif-secret"):
        assert secret not in text
    assert "PRIVATE KEY" not in text
    # Person numbers (psn_no) are the centre's, 20 digits; nothing else that long is shown.
    psn_nos = {p["psn_no"] for p in admin.get("/gongji-admin/state").json()["people"]}
    assert set(FULL_ID_OR_CODE.findall(text)) <= psn_nos


def test_the_ledger_is_listed_newest_first_with_reversed_settlements_marked(
    admin: httpx.Client, till: SettlementClient, mock: MockGateway
) -> None:
    first = till.settle(purchase(MOTHER), key="DASH-0006")
    till.settle(purchase(MOTHER), key="DASH-0007")
    till.refund(first.settlement_id)
    ledger = admin.get("/gongji-admin/ledger", params={"limit": "2"}).json()
    assert ledger["total"] == len(mock.centre.ledger.transactions) == 3
    assert [t["kind"] for t in ledger["transactions"]] == ["reverse", "settle"]
    everything = admin.get("/gongji-admin/ledger").json()["transactions"]
    reversed_flags = {
        t["settlement_id"]: t["reversed"] for t in everything if t["kind"] == "settle"
    }
    assert reversed_flags[first.settlement_id] is True
    assert list(reversed_flags.values()).count(False) == 1
    son_leg = next(p for p in everything[-1]["postings"] if str(p["account"]).endswith("0036"))
    assert son_leg["account"] == "210202********0036"


@pytest.mark.parametrize("limit", ["-1", "1001", "many"])
def test_a_limit_out_of_range_is_a_400_saying_what_to_do(admin: httpx.Client, limit: str) -> None:
    answer = admin.get("/gongji-admin/requests", params={"limit": limit})
    assert answer.status_code == 400
    assert "limit must be a whole number from 0 to 1000" in answer.json()["message"]


def test_the_dashboard_answer_cuts_long_lists_to_the_newest(
    admin: httpx.Client, till: SettlementClient
) -> None:
    till.settle(purchase(MOTHER), key="DASH-0008")
    snapshot = admin.get("/gongji-admin/dashboard")
    assert snapshot.headers["cache-control"] == "no-store"
    board = snapshot.json()
    assert set(board) == {
        "policy",
        "people",
        "bindings",
        "violations",
        "ledger",
        "requests",
        "callbacks",
        "faults",
    }
    assert board["violations"] == []
    assert board["ledger"]["total"] == 1
    assert board["requests"]["total"] == len(board["requests"]["requests"]) > 1
    assert "timeout_before_commit" in board["faults"]["kinds"]
    assert "national" in board["faults"]["targets"]
    # The snapshot's own limit cuts every list; the newest row stays.
    cut = MockGateway.demo()
    for _ in range(3):
        cut.handle(httpx.Request("GET", "http://mock.test/nowhere"))
    small = AdminEndpoint(cut).dashboard(limit=2)
    assert [r["number"] for r in small["requests"]["requests"]] == [3, 2]


def test_one_fault_switched_off_leaves_the_others_and_what_they_have_left(
    admin: httpx.Client, mock: MockGateway
) -> None:
    for rule in (
        {"kind": "error_5xx", "target": "national", "code": "2102", "times": 2},
        {"kind": "timeout_before_commit", "target": "national", "code": "2102"},
        {"kind": "bad_signature", "target": "wechatpay"},
    ):
        admin.post("/gongji-admin/faults", json=rule)
    assert mock.faults.decide("national", "2102").kinds == {"error_5xx", "timeout_before_commit"}
    answer = admin.delete(
        "/gongji-admin/faults",
        params={"kind": "timeout_before_commit", "target": "national", "code": "2102"},
    ).json()
    assert [(r["kind"], r["left"]) for r in answer["faults"]] == [
        ("error_5xx", 1),
        ("bad_signature", None),
    ]
    assert mock.faults.decide("national", "2102").kinds == {"error_5xx"}
    assert mock.faults.decide("national", "2102").kinds == set()  # its two times are used up
    assert answer["injected"] == {"error_5xx": 1, "timeout_before_commit": 1}


def test_switching_off_a_fault_that_is_not_on_changes_nothing() -> None:
    faults = Faults()
    faults.add("latency", target="alipay", latency_ms=10)
    assert faults.remove("latency", target="wechatpay") == 0
    assert len(faults.rules) == 1
    with pytest.raises(ConfigError, match="Unknown fault kind"):
        faults.remove("meteor")


def test_the_page_and_its_files_come_from_the_package(admin: httpx.Client) -> None:
    page = admin.get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.content == static_file("index.html")
    # Everything the page loads is its own: no CDN, no other host.
    assert re.findall(r'(?:src|href)="([^"]+)"', page.text) == [
        "data:,",
        "/dashboard/dashboard.css",
        "/dashboard/dashboard.js",
    ]
    script = admin.get("/dashboard/dashboard.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"/gongji-admin/" in script.content
    assert admin.get("/dashboard/dashboard.css").status_code == 200
    assert admin.get("/dashboard/secrets.txt").status_code == 404
    assert admin.post("/").status_code == 405
