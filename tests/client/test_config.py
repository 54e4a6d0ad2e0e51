"""gongji.toml profiles: adapters by name, secrets from the environment or a file (never
in the file or an error), and clear errors for what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gongji import Cash, ConfigError, Fen, SettlementClient
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_TIF_SECRET
from tests.client.conftest import MOTHER, SON, scanned_purchase

PROFILE = """
[profiles.dalian]
[profiles.dalian.gateway]
adapter = "cityins"
city = "dalian"
base_url = "http://centre.invalid"
institution_code = "H21020200001"
institution_name = "大连测试药房"
pharmacist = "李药师"
pharmacist_cert_no = "ZY210200001"
paasid = "gongji-mock"
{secret}

[profiles.dalian.timeouts]
connect = 2
read = 5
"""


def write(tmp_path: Path, secret: str) -> Path:
    path = tmp_path / "gongji.toml"
    path.write_text(PROFILE.format(secret=secret), encoding="utf-8")
    return path


def test_profile_with_the_secret_from_the_environment_settles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONGJI_TEST_TIF", DEFAULT_TIF_SECRET)
    mock = MockGateway.demo()
    path = write(tmp_path, 'secret_env = "GONGJI_TEST_TIF"')
    with SettlementClient.from_config(path, profile="dalian", transport=mock.transport()) as client:
        receipt = client.settle(scanned_purchase(MOTHER), key="CFG-0001", cash=Cash.counter())
    assert receipt.cash == Fen(7_000) and mock.balance(SON) == Fen(460_000)


def test_profile_with_the_secret_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "tif.secret").write_text(DEFAULT_TIF_SECRET + "\n", encoding="utf-8")
    mock = MockGateway.demo()
    path = write(tmp_path, f'secret_file = "{tmp_path / "tif.secret"}"')
    with SettlementClient.from_config(path, profile="dalian", transport=mock.transport()) as client:
        assert client.preview(scanned_purchase(MOTHER)).cash == Fen(7_000)


def test_a_relative_secret_file_is_read_from_the_config_files_folder_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "tif.secret").write_text(DEFAULT_TIF_SECRET, encoding="utf-8")
    path = write(tmp_path / "conf", 'secret_file = "tif.secret"')
    monkeypatch.chdir(tmp_path)  # where the till was started: no tif.secret here
    mock = MockGateway.demo()
    with SettlementClient.from_config(path, profile="dalian", transport=mock.transport()) as client:
        assert client.preview(scanned_purchase(MOTHER)).cash == Fen(7_000)


def test_a_secret_written_into_the_profile_is_refused_and_not_repeated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gateway\.secret holds a secret inline") as refused:
        SettlementClient.from_config(write(tmp_path, 'secret = "hunter2tif"'), profile="dalian")
    assert "hunter2tif" not in str(refused.value)


def test_missing_secret_variable_is_named_and_nothing_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GONGJI_TEST_TIF", raising=False)
    with pytest.raises(ConfigError, match="GONGJI_TEST_TIF is not set"):
        SettlementClient.from_config(
            write(tmp_path, 'secret_env = "GONGJI_TEST_TIF"'), profile="dalian"
        )


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("nowhere", "has no profile 'nowhere'"),
        ("dalian", "No insurance adapter is registered as 'nosuch'. Use one of: cityins"),
    ],
)
def test_unknown_profile_or_adapter_is_refused_with_the_choices(
    tmp_path: Path, profile: str, message: str
) -> None:
    path = (
        write(tmp_path, 'secret = "x"')
        .read_text(encoding="utf-8")
        .replace('adapter = "cityins"', 'adapter = "nosuch"')
    )
    (tmp_path / "g.toml").write_text(path, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        SettlementClient.from_config(tmp_path / "g.toml", profile=profile)


def test_only_the_mock_profile_needs_no_file() -> None:
    with pytest.raises(ConfigError, match="needs a configuration file"):
        SettlementClient.from_profile("dalian")
