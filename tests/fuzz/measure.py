"""Examples per second of each fuzz test, CPU and wall (run by hand, not a test):

    GONGJI_FUZZ_EXAMPLES=2000 .venv/bin/python -m tests.fuzz.measure

Each test runs with its own settings (the ci profile), GONGJI_FUZZ_EXAMPLES of them; CPU
time is this process's, so a busy machine shows in the wall figure only.
"""

from __future__ import annotations

import os
import time
from typing import Any

from tests.fuzz import (
    test_fuzz_alipay,
    test_fuzz_cityins,
    test_fuzz_files,
    test_fuzz_mock,
    test_fuzz_wechatpay,
)

TESTS: list[Any] = [
    test_fuzz_cityins.test_centre_answers_raise_only_gongji_errors,
    test_fuzz_cityins.test_tif_and_csb_verification_raises_only_signature_errors,
    test_fuzz_wechatpay.test_wechatpay_answers_raise_only_gongji_errors,
    test_fuzz_wechatpay.test_wechatpay_callbacks_raise_only_gongji_errors,
    test_fuzz_alipay.test_alipay_answers_raise_only_gongji_errors,
    test_fuzz_alipay.test_alipay_notifications_raise_only_gongji_errors,
    test_fuzz_files.test_files_raise_only_gongji_errors,
    test_fuzz_mock.test_mock_requests_get_an_answer,
]


def main() -> None:
    examples = int(os.environ.get("GONGJI_FUZZ_EXAMPLES") or 10_000)
    for test in TESTS:
        cpu, wall = time.process_time(), time.perf_counter()
        test()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"{test.__name__:70} {examples / cpu:6.0f} ex/s CPU {examples / wall:6.0f} wall")


if __name__ == "__main__":
    main()
