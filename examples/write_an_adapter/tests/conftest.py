"""The office and the channel every test here talks to, in this process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gongji_campuscard import DEMO_SECRET, DEMO_TERMINAL, CampusCardChannel, CampusCardOffice


@pytest.fixture
def office() -> CampusCardOffice:
    return CampusCardOffice()  # knows the demo terminal


@pytest.fixture
def channel() -> CampusCardChannel:
    return CampusCardChannel(terminal_id=DEMO_TERMINAL, secret=DEMO_SECRET)


@pytest.fixture
def http(office: CampusCardOffice) -> Iterator[httpx.Client]:
    with httpx.Client(transport=office.transport()) as client:
        yield client
