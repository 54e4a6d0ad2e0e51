"""The commands' logic, in process through ``gongji.cli.main`` (test_cli.py runs the real
entry point): the purchase file and flags, preview and settle against a mock the test
holds, the demo's own checks, keys, and ``--json`` everywhere."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path

import pytest

from gongji import Fen, OwnCardViolation
from gongji.cli import argument_parser, main
from gongji.cli.purchase import read_purchase
from gongji.errors import InvalidInput
from gongji.identity import CredentialKind
from gongji.signing.keys import load_private_key, load_public_key
from gongji_mock import MockGateway
from tests.client.conftest import ALIPAY_PAID, MOTHER, SON, WECHAT_PAID

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "purchase.toml"


def gongji(*args: str, mock: MockGateway | None = None) -> int:
    return main(list(args), client_options={"mock": mock} if mock is not None else None)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gongji: ") and "Traceback" not in err
    return err


# ---------------------------------------------------------------- the purchase file


def test_a_toml_price_is_read_as_written_never_through_a_float(tmp_path: Path) -> None:
    # float("0.29") * 100 is 28.999...: a float on the way would lose a fen.
    path = tmp_path / "p.toml"
    path.write_text(
        f'id_card = "{SON}"\n[[items]]\ncode = "X"\nname = "n"\nprice = 0.29\nquantity = 3\n',
        encoding="utf-8",
    )
    assert read_purchase(path).items[0].unit_price == Fen(29)


def test_a_json_purchase_with_a_social_card_and_a_float_looking_price(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps(
            {
                "social_card": "21000012",
                "card_sn": "D12345678",
                "card_region": "210200",
                "card_holder": SON,
                "purpose": "medical",
                "setting": "outpatient",
                "items": [{"code": "X", "name": "n", "price": 1, "coverage": "B"}],
            }
        ).replace('"price": 1', '"price": 10.10'),
        encoding="utf-8",
    )
    purchase = read_purchase(path)
    assert purchase.items[0].unit_price == Fen(1010) and purchase.items[0].quantity == 1
    assert (
        purchase.credential.kind is CredentialKind.SOCIAL_CARD
        and purchase.setting.value == "outpatient"
    )
    assert purchase.credential.value == "21000012" and purchase.credential.id_number == SON


@pytest.mark.parametrize(
    ("document", "said"),
    [
        ({"items": [{"code": "X", "name": "n", "price": "1"}]}, "exactly one credential, got none"),
        (
            {"e_voucher": "t", "id_card": SON, "items": [{"code": "X", "name": "n", "price": "1"}]},
            "got e_voucher and id_card",
        ),
        ({"e_voucher": "t", "item": []}, "unknown field `item`"),
        (
            {"e_voucher": "t", "items": [{"code": "X", "name": "n"}]},
            "missing required field `price`",
        ),
        (
            {
                "e_voucher": "t",
                "items": [{"code": "X", "name": "n", "price": "1", "coverage": "D"}],
            },
            "items[0].coverage: Invalid enum value 'D'",
        ),
        (
            {"e_voucher": "t", "items": [{"code": "X", "name": "n", "price": "1.234"}]},
            "items[0].price: The yuan amount '1.234' has more than two decimals",
        ),
        (
            {
                "e_voucher": "t",
                "patient": "123",
                "items": [{"code": "X", "name": "n", "price": "1"}],
            },
            "patient: The ID number",
        ),
        ({"e_voucher": "t", "items": []}, "The basket is empty"),
    ],
)
def test_a_wrong_purchase_file_names_the_field(tmp_path: Path, document: object, said: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InvalidInput) as raised:
        read_purchase(path)
    assert said in str(raised.value) and str(path) in str(raised.value)


def test_a_purchase_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("items: []", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"neither \.toml nor \.json"):
        read_purchase(path)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["--e-voucher", "t", "--item", "X:n:1", "--item", "Y:n:1:two"],
            "has quantity 'two', not a whole number of units",
        ),
        (["--e-voucher", "t", "--item", "X:n"], "is not CODE:NAME:PRICE_YUAN"),
        (["--id-card", "1234", "--item", "X:n:1"], "--id-card: The ID number"),
        (["--e-voucher", "t"], "No purchase was given"),
        (["--purchase", str(EXAMPLE), "--item", "X:n:1"], "either as a file or as flags"),
    ],
)
def test_wrong_purchase_flags_are_one_line_naming_the_flag(
    capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    assert gongji("preview", *args) == 1
    assert said in error_line(capsys)


# ---------------------------------------------------------------- preview and settle


def test_settle_charges_the_accounts_the_receipt_names_and_the_channel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    mock = MockGateway.demo()
    before = mock.balance(SON)
    args = ["--purchase", str(EXAMPLE), "--key", "POS-1", "--alipay", ALIPAY_PAID, "--json"]
    assert gongji("settle", *args, mock=mock) == 0
    receipt = json.loads(capsys.readouterr().out)["receipt"]
    (leg,) = receipt["legs"]
    # A real centre reports mutual aid without its owner (NATIONAL.md §13): the son's
    # account paid it, which only the mock's ledger can tell.
    assert leg["source"] == "mutual_aid" and leg["payer"] is None
    assert mock.balance(SON) == before - Fen(leg["amount"])
    assert receipt["cash_channel"] == "alipay" and receipt["cash"] == 8800
    assert mock.check() == []


def test_preview_charges_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    mock = MockGateway.demo()
    before = mock.balance(SON)
    assert gongji("preview", "--purchase", str(EXAMPLE), mock=mock) == 0
    assert "Quote" in capsys.readouterr().out and mock.balance(SON) == before


def test_the_purchase_file_given_positionally_is_the_same_as_purchase_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    quotes = []
    for args in (["preview", str(EXAMPLE)], ["preview", "--purchase", str(EXAMPLE)]):
        assert gongji("--json", *args, mock=MockGateway.demo()) == 0
        quotes.append(json.loads(capsys.readouterr().out))
    assert quotes[0] == quotes[1] and quotes[0]["quote"]["total"] == 16160


def test_settle_takes_the_purchase_file_positionally(capsys: pytest.CaptureFixture[str]) -> None:
    mock = MockGateway.demo()
    args = ["--json", "settle", str(EXAMPLE), "--key", "POS-FILE-1", "--counter"]
    assert gongji(*args, mock=mock) == 0
    assert json.loads(capsys.readouterr().out)["receipt"]["total"] == 16160
    assert mock.check() == []


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--purchase", str(EXAMPLE)], "The purchase file was given twice"),
        (["--item", "X01:x:1.00"], "A purchase file was given with --item"),
    ],
)
def test_a_positional_file_with_another_purchase_is_refused_charging_nothing(
    extra: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    mock = MockGateway.demo()
    before = mock.balance(SON)
    assert gongji("settle", str(EXAMPLE), *extra, "--key", "K", "--counter", mock=mock) == 1
    assert said in error_line(capsys)
    assert mock.balance(SON) == before


def test_the_help_names_every_purpose_setting_and_entry_state_the_code_has() -> None:
    from gongji.cli.journal import ENTRY_STATES
    from gongji.cli.purchase_arguments import PURPOSES, SETTINGS
    from gongji.journal import EntryState
    from gongji.model import Purpose, Setting

    assert tuple(p.value for p in Purpose) == PURPOSES
    assert tuple(s.value for s in Setting) == SETTINGS
    assert tuple(s.value for s in EntryState) == ENTRY_STATES


def test_impersonation_at_settle_is_refused_under_r1_and_charges_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    mock = MockGateway.demo()
    before = mock.balance(SON)
    args = ["--id-card", SON, "--patient", MOTHER, "--item", "X:n:20.00", "--key", "K"]
    assert gongji("settle", *args, "--wechat", WECHAT_PAID, mock=mock) == 2
    err = error_line(capsys)
    assert err.startswith("gongji: R1: ") and "R1: R1" not in err and SON not in err
    assert mock.balance(SON) == before


def test_a_mock_url_goes_with_the_mock_profile_only(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--purchase", str(EXAMPLE), "--profile", "dalian", "--mock-url", "http://127.0.0.1:9"]
    assert gongji("preview", *args) == 1
    assert "--mock-url goes with the mock profile" in error_line(capsys)


def test_settle_needs_a_key_and_a_way_to_collect_cash(capsys: pytest.CaptureFixture[str]) -> None:
    for missing in (["--counter"], ["--key", "K"]):
        with pytest.raises(SystemExit) as exited:
            gongji("settle", "--purchase", str(EXAMPLE), *missing)
        assert exited.value.code == 2
    assert "--key" in capsys.readouterr().err


# ---------------------------------------------------------------- the demo's own checks


def test_a_story_whose_ledger_moved_otherwise_than_its_receipt_is_not_as_scripted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gongji_mock.demo import stories, tell

    mock = MockGateway.demo()
    honest = mock.balance

    def one_fen_short(id_number: str) -> Fen:
        # After the first settlement the son's account reads one fen lower than it is.
        settled = bool(mock.centre.ledger.transactions)
        return honest(id_number) - Fen(1 if settled and id_number == SON else 0)

    monkeypatch.setattr(mock, "balance", one_fen_short)
    told, violations = tell(stories()[:1], mock)
    assert violations == []
    assert told[0].receipt is not None and told[0].problem is not None
    assert "the ledger moved 210202********0036's account by 25.01" in told[0].problem


def test_the_demo_fails_when_the_ledger_is_unsound(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mock = MockGateway.demo()
    monkeypatch.setattr(mock, "check", lambda: ["settlement X: legs differ from the total"])
    monkeypatch.setattr(MockGateway, "demo", classmethod(lambda cls, **_: mock))
    assert gongji("demo", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and report["ledger"]["violations"]
    assert all(story["ok"] for story in report["stories"])


def test_a_story_refused_at_preview_must_be_refused_at_settle_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gongji import SettlementClient
    from gongji_mock.demo import stories, tell

    impersonation = next(s for s in stories() if "impersonation" in s.title)

    def settles_anyway(self: SettlementClient, purchase: object, **_: object) -> object:
        return "a receipt"

    monkeypatch.setattr(SettlementClient, "settle", settles_anyway)
    (told,), _ = tell([impersonation], MockGateway.demo())
    assert isinstance(told.refused, OwnCardViolation)
    assert told.problem == "the preview was refused, yet the settlement went through"


# ---------------------------------------------------------------- keys


def test_keys_generate_with_force_replaces_the_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keys"
    assert gongji("keys", "generate", "--out", str(out), "--json") == 0
    first = json.loads(capsys.readouterr().out)
    assert "never use them in production" in first["warning"]
    # Each private key file and its public file are one pair, as the output says.
    for pair in ("wechatpay-merchant", "wechatpay-platform", "alipay-app", "alipay-platform"):
        private = load_private_key((out / f"{pair}-private.pem").read_bytes())
        public = load_public_key((out / f"{pair}-public.pem").read_bytes())
        shown = {row["fingerprint"] for row in first["files"] if pair in row["path"]}
        assert private.fingerprint == public.fingerprint and shown == {public.fingerprint}
    assert len((out / "wechatpay-apiv3.key").read_text(encoding="ascii").strip()) == 32
    merchant = out / "wechatpay-merchant-private.pem"
    old = merchant.read_bytes()
    (out / "wechatpay-merchant-private.pem").chmod(0o644)
    assert gongji("keys", "generate", "--out", str(out), "--force") == 0
    assert merchant.read_bytes() != old and stat.S_IMODE(merchant.stat().st_mode) == 0o600
    assert "BEGIN" not in capsys.readouterr().out


def test_keys_generate_into_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    assert gongji("keys", "generate", "--out", str(tmp_path / "file")) == 1
    assert "is a file, not a directory" in error_line(capsys)


# ---------------------------------------------------------------- --json everywhere


def _leaf_commands() -> list[tuple[str, argparse.ArgumentParser]]:
    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            found.append((prefix, parser))
        for action in subparsers:
            for name, sub in action.choices.items():
                walk(sub, f"{prefix} {name}".strip())

    walk(argument_parser(), "")
    return found


@pytest.mark.parametrize(("command", "parser"), _leaf_commands(), ids=lambda v: str(v))
def test_every_command_takes_json_after_its_name(
    command: str, parser: argparse.ArgumentParser
) -> None:
    assert any("--json" in action.option_strings for action in parser._actions), command


@pytest.mark.parametrize("command", [["policy", "list"], ["plugins"]])
def test_policy_list_and_plugins_print_json(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert gongji(*command, "--json") == 0
    assert json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- what the machine refuses


def test_a_port_out_of_range_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        gongji("mock", "serve", "--port", "99999")
    assert exited.value.code == 2


def test_an_error_of_the_machine_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gongji_mock import cli as mock_cli

    def disk_full(args: object, client_options: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mock_cli, "run_demo", disk_full)
    assert gongji("demo") == 1
    assert "gongji: os_error: The system refused: No space left on device." in error_line(capsys)
