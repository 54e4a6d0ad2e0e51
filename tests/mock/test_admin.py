"""The admin endpoint: state with masked IDs, the invariant check, faults switched over HTTP."""

from __future__ import annotations

import httpx
import pytest

from gongji_mock import MockGateway

SON = "210202198503170036"


@pytest.fixture
def admin() -> httpx.Client:
    return httpx.Client(
        transport=MockGateway.demo().transport(), base_url="http://mock.test/gongji-admin/"
    )


def test_state_shows_people_balances_and_bindings_with_masked_ids(admin: httpx.Client) -> None:
    state = admin.get("state").json()
    assert state["policy"] == "liaoning-dalian-2025"
    son = next(p for p in state["people"] if p["id"].endswith("0036"))
    assert son["balance"] == "5000.00"
    assert SON not in admin.get("state").text
    assert {b["status"] for b in state["bindings"]} == {"active", "pending", "revoked"}


def test_check_reports_a_sound_ledger(admin: httpx.Client) -> None:
    assert admin.get("check").json() == {"violations": []}


def test_faults_switched_over_http_change_the_next_call(admin: httpx.Client) -> None:
    added = admin.post(
        "faults", json={"kind": "error_5xx", "target": "national", "times": 1}
    ).json()
    assert added["faults"][0]["kind"] == "error_5xx"
    response = admin.post("http://mock.test/fsi/api/rsfComIfsService/callService", content=b"{}")
    assert response.status_code == 503
    assert admin.delete("faults").json()["faults"] == []


def test_admin_is_never_hit_by_faults(admin: httpx.Client) -> None:
    admin.post("faults", json={"kind": "error_5xx"})
    assert admin.get("check").status_code == 200


def test_bad_fault_over_http_is_a_400_saying_why(admin: httpx.Client) -> None:
    response = admin.post("faults", json={"kind": "meteor"})
    assert response.status_code == 400
    assert "Unknown fault kind" in response.json()["message"]


def test_fresh_e_voucher_over_http(admin: httpx.Client) -> None:
    token = admin.post("e-voucher", json={"id_number": SON}).json()["token"]
    assert token.startswith("ev-")
