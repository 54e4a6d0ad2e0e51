"""Person numbers (``psn_no``): the centre's opaque number for each person it insures."""

from __future__ import annotations

import hashlib
import hmac

from gongji import clock as beijing
from gongji.errors import GongjiError
from gongji.identity import IdNumber
from gongji.model import Person
from gongji_mock.centre.decisions import Centre, CentreRefusal
from gongji_mock.national.wire import BaseInfo

#: The default key for person numbers: fixed, so that a dataset's ``psn_no`` are stable
#: across runs of the mock. Pass another ``psn_key`` to change them.
DEFAULT_PSN_KEY = b"gongji-mock psn_no v1"


class PersonNumbers:
    """Every person of the centre's dataset, by ID number and by ``psn_no``."""

    def __init__(self, centre: Centre, key: bytes = DEFAULT_PSN_KEY) -> None:
        self.centre = centre
        self._key = key
        self._by_id: dict[IdNumber, str] = {}
        self._by_psn: dict[str, IdNumber] = {}
        for number, person in centre.dataset.people.items():
            psn_no = self._derive(number, person.insurance.region)
            if psn_no in self._by_psn:
                raise GongjiError(
                    "Two people of the dataset got the same psn_no.",
                    next_step="Start the mock with another psn_key.",
                )
            self._by_id[number] = psn_no
            self._by_psn[psn_no] = number

    def psn_no(self, number: IdNumber | str) -> str:
        """The opaque person number (``psn_no``) the centre gives this ID number."""
        found = self._by_id.get(IdNumber(number))
        if found is None:
            raise CentreRefusal("未查询到参保人员信息", "No insured person with this ID number.")
        return found

    def person(self, psn_no: str) -> Person:
        """The person with this ``psn_no``, with the ledger's current balance."""
        number = self._by_psn.get(psn_no)
        if number is None:
            raise CentreRefusal(
                "人员编号不存在",
                "There is no person with this psn_no; query the person with 1101 first and use its psn_no.",
            )
        return self.centre.person(number)

    def base_info(self, person: Person) -> BaseInfo:
        return BaseInfo(
            psn_no=self.psn_no(person.id),
            psn_cert_type="01",  # resident ID card
            certno=person.id.number,
            psn_name=person.name,
            gend="1" if person.id.sex == "male" else "2",
            brdy=person.id.birth_date.isoformat(),
            age=f"{person.id.age_on(beijing.day(self.centre.clock()))}.0",
        )

    def _derive(self, number: IdNumber, region: str) -> str:
        # A keyed hash: stable for a dataset and key, and not the ID number, which the
        # national interface keeps apart from the person number.
        digest = hmac.new(self._key, number.number.encode(), hashlib.sha256).digest()
        return f"{region or number.region}{int.from_bytes(digest[:8], 'big') % 10**14:014d}"


def pooling_region(region: str) -> str:
    """The pooling region (统筹区) of a region code: a county's code names its city
    (210202 -> 210200). This is the ``insuplc_admdvs`` the centre answers and expects."""
    return f"{region[:4]}00" if len(region) == 6 else region
