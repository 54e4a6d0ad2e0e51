"""The gongji command through its real entry point: the installed ``gongji`` script in a
subprocess, one run per behaviour (each costs an interpreter start). The logic behind
the commands is tested in process in test_cli_commands.py."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gongji.policy import get_policy
from tests.conftest import OWNER, PATIENT

GONGJI = shutil.which("gongji", path=str(Path(sys.executable).parent)) or "gongji"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PURCHASE = ROOT / "examples" / "purchase.toml"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GONGJI, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *said: str) -> None:
    """A non-zero exit, one line on stderr saying ``gongji: <label>: ...``, no traceback."""
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("gongji: ")
    assert "Traceback" not in result.stderr + result.stdout
    for words in said:
        assert words in result.stderr


def family_numbers() -> list[str]:
    from gongji_mock.centre.dataset import demo_dataset

    return [*demo_dataset().people, OWNER, PATIENT]


# ---------------------------------------------------------------- demo


@pytest.fixture(scope="module")
def demo_json() -> subprocess.CompletedProcess[str]:
    return run("demo", "--json")


def test_demo_settles_every_story_end_to_end_as_scripted(
    demo_json: subprocess.CompletedProcess[str],
) -> None:
    assert demo_json.returncode == 0, demo_json.stderr
    report = json.loads(demo_json.stdout)
    assert report["ok"] and report["ledger"] == {"violations": []}
    assert report["national"] == "strict"  # against the interface a real centre speaks
    stories = report["stories"]
    assert len(stories) >= 7 and all(s["ok"] and s["problem"] is None for s in stories)
    impersonation = next(s for s in stories if "impersonation" in s["story"])
    assert impersonation["refused"]["rule"] == "R1" and impersonation["receipt"] is None
    refunded = next(s for s in stories if s["refund"] is not None)
    assert refunded["refund"]["settlement_id"] == refunded["receipt"]["settlement_id"]
    settled = [s for s in stories if s["receipt"] is not None]
    # Each receipt is its quote, booked: the same legs and cash, and money is conserved.
    for story in settled:
        quote, receipt = story["quote"], story["receipt"]
        assert (quote["legs"], quote["cash"]) == (receipt["legs"], receipt["cash"])
        legs = sum(leg["amount"] for leg in receipt["legs"])
        assert receipt["total"] == receipt["fund"] + legs + receipt["cash"]
    channels = {s["receipt"]["cash_channel"] for s in settled if s["receipt"]["cash"]}
    assert {"wechatpay", "alipay", "counter"} <= channels


def test_demo_shows_the_cashiers_view_without_a_full_id_number(
    demo_json: subprocess.CompletedProcess[str],
) -> None:
    text = run("demo")
    assert text.returncode == 0
    assert "ended as scripted." in text.stdout and "receipt 结算" in text.stdout
    assert "refunded 已退款" in text.stdout and "R1" in text.stdout
    for number in family_numbers():
        assert str.__str__(number) not in text.stdout + text.stderr + demo_json.stdout


# ---------------------------------------------------------------- preview and settle


def test_preview_of_the_example_purchase_file_shows_the_quote() -> None:
    result = run("preview", "--purchase", str(EXAMPLE_PURCHASE), "--json")
    assert result.returncode == 0, result.stderr
    quote = json.loads(result.stdout)["quote"]
    assert quote["total"] == 2 * 3680 + 8800
    assert [leg["source"] for leg in quote["legs"]] == ["mutual_aid"]
    assert [item["category"] for item in quote["cash_only"]] == ["cosmetic"]


def test_settle_from_flags_prints_the_receipt_and_never_the_payment_code() -> None:
    code = "134567890123456781"
    result = run(
        "settle",
        "--id-card",
        str(OWNER),
        "--item",
        "X01:感冒灵颗粒:12.50:2",
        "--item",
        "C01:润唇膏:88.00:1:C:cosmetic",
        "--key",
        "POS01-0001",
        "--wechat",
        code,
    )
    assert result.returncode == 0, result.stderr
    assert "Receipt SETL" in result.stdout and "WeChat Pay" in result.stdout
    assert "113.00" in result.stdout and "rehearsal" in result.stdout
    assert code not in result.stdout + result.stderr
    assert str.__str__(OWNER) not in result.stdout


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "There is no purchase file at"),
        ('e_voucher = "demo-token-mother"\n[[items]\n', "is not valid TOML"),
        (
            'e_voucher = "demo-token-mother"\n[[items]]\ncode = "X"\nname = "n"\nprice = 1\n'
            'quantity = "two"\n',
            "items[0].quantity: Expected `int`, got `str`",
        ),
    ],
    ids=["missing file", "TOML syntax error", "wrong field type"],
)
def test_a_bad_purchase_file_is_one_line_and_non_zero(
    tmp_path: Path, content: str | None, said: str
) -> None:
    path = tmp_path / "purchase.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert_one_line_error(run("preview", "--purchase", str(path)), "invalid_input", said)


def test_an_unknown_profile_is_one_line_and_non_zero(tmp_path: Path) -> None:
    config = tmp_path / "gongji.toml"
    config.write_text("[profiles.dalian]\n", encoding="utf-8")
    result = run(
        "preview", "--purchase", str(EXAMPLE_PURCHASE), "--config", str(config), "--profile", "x"
    )
    assert_one_line_error(result, "config_error", "has no profile 'x'", "Use one of: dalian")


def test_a_json_error_is_a_json_object_on_stdout(tmp_path: Path) -> None:
    result = run(
        "--json", "settle", "--purchase", str(tmp_path / "none.json"), "--key", "K", "--counter"
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    error = json.loads(result.stdout)
    assert error["error"] == "invalid_input" and "no purchase file" in error["message"]


# ---------------------------------------------------------------- keys


def test_keys_generate_writes_owner_only_files_and_never_prints_a_private_key(
    tmp_path: Path,
) -> None:
    out = tmp_path / "keys"
    result = run("keys", "generate", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "TEST KEYS FOR THE MOCK ONLY" in result.stdout and "never" in result.stdout
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    written = sorted(out.iterdir())
    assert len(written) >= 9
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in written)
    before = {path: path.read_bytes() for path in written}
    again = run("keys", "generate", "--out", str(out))
    assert_one_line_error(again, "invalid_input", "nothing was written", "--force")
    assert {path: path.read_bytes() for path in written} == before


# ---------------------------------------------------------------- policy, plugins, mock


def test_policy_list_json_names_the_registered_packs() -> None:
    result = run("policy", "list", "--json")
    assert result.returncode == 0
    assert {"national-2025", "liaoning-dalian-2025"} <= set(json.loads(result.stdout))


def test_policy_show_prints_the_resolved_pack() -> None:
    result = run("policy", "show", "liaoning-dalian-2025", "--json")
    assert result.returncode == 0
    pack = json.loads(result.stdout)
    assert pack["premium"]["adult"] == "380.00" and pack["plausibility"]["marriage_age_male"] == 22
    assert pack["cite"]["premium.adult"].startswith("seed 000 l.51")


def test_policy_show_prints_each_values_source() -> None:
    result = run("policy", "show", "liaoning-dalian-2025")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    adult = lines.index('premium.adult = "380.00"')
    assert (
        lines[adult + 1].strip()
        == f"source: {get_policy('liaoning-dalian-2025').cite['premium.adult']}"
    )
    assert "    source: public: 民法典" in result.stdout  # inherited from the national pack


def test_policy_show_marks_an_illustrative_pack() -> None:
    result = run("policy", "show", "demo-dalian")
    assert "ILLUSTRATIVE" in result.stdout and "source: illustrative: no source" in result.stdout


def test_unknown_pack_is_one_line_error_and_non_zero_exit() -> None:
    result = run("policy", "show", "nowhere-1999")
    assert result.returncode == 1
    assert_one_line_error(result, "config_error", "national-2025")


def test_missing_pack_file_is_one_line_error(tmp_path: Path) -> None:
    result = run("policy", "show", str(tmp_path / "missing.toml"))
    assert result.returncode == 1
    assert_one_line_error(result, "cannot be read")


def test_plugins_lists_the_rules_and_each_adapter_with_its_capabilities() -> None:
    rows = json.loads(run("--json", "plugins").stdout)
    assert {f"gongji.rules.R{n}" for n in range(1, 10)} <= {row["name"] for row in rows}
    adapters = {a["name"]: (row["name"], a) for row in rows for a in row["adapters"]}
    plugin, cityins = adapters["cityins"]
    assert plugin == "cityins" and cityins["kind"] == "insurance"
    assert {"person_info", "settle", "reverse"} <= set(cityins["capabilities"])


def test_mock_serve_help_documents_callback_delivery() -> None:
    result = run("mock", "serve", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--notify-url URL" in text
    assert "notify_url" in text and "retried" in text and "/gongji-admin/callbacks" in text
