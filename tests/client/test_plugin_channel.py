"""A cash share may go through a payment channel a plugin adds (``Cash.channel``);
one the client does not have is refused before anything is sent."""

from __future__ import annotations

import pytest

from gongji import Cash, ConfigError, InvalidInput
from gongji_mock import MockGateway
from tests.client.conftest import MOTHER, Till, purchase


def test_a_plugin_channel_is_named_by_its_registered_name() -> None:
    assert Cash.channel("campuscard", "CC2026000100000001").kind == "campuscard"
    assert "CC2026000100000001" not in repr(Cash.channel("campuscard", "CC2026000100000001"))


@pytest.mark.parametrize("kind", ["", "Campus Card", "x" * 40, "wechat-pay"])
def test_a_way_to_pay_that_cannot_be_a_channel_name_is_refused(kind: str) -> None:
    with pytest.raises(InvalidInput, match="Unknown way to pay"):
        Cash(kind, "123456")


def test_a_plugin_channel_needs_the_payment_code() -> None:
    with pytest.raises(InvalidInput, match="needs the payer's payment code"):
        Cash.channel("campuscard", "")


def test_a_channel_the_client_does_not_have_is_refused_before_anything_is_sent(
    till: Till, mock: MockGateway
) -> None:
    with pytest.raises(ConfigError, match=r"No campuscard channel"):
        till.settle(purchase(MOTHER), key="PLUGIN-0001", cash=Cash.channel("campuscard", "CC1"))
    assert not mock.centre.ledger.transactions
    assert till.client.journal.get("PLUGIN-0001") is None
