"""The campus card channel against gongji's contract for every payment channel.

``PaymentChannelContract`` brings the tests; this class brings the three fixtures it
asks for (``channel`` and ``http`` come from conftest.py). gongji runs the same suite
over its own WeChat Pay and Alipay channels.
"""

from __future__ import annotations

import pytest
from gongji.contract import PaymentChannelContract

from gongji_campuscard import PAYING_CODE


class TestCampusCardChannel(PaymentChannelContract):
    @pytest.fixture
    def payment_code(self) -> str:
        return PAYING_CODE
