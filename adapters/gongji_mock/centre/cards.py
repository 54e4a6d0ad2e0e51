"""The social-security cards of the mock's people, as a card reader reads them.

Every person of a dataset has one card, derived from the ID number, so that a dataset
needs no card rows: its number (社会保障卡卡号: the region's first two digits and eight
more), its identification code (``card_sn``, 32 hex characters), the card's region, and
the holder's ID number (社会保障号码), which a reader gives too.
"""

from __future__ import annotations

import hashlib

from gongji.identity import Credential
from gongji.model import Person


def card_of(person: Person) -> Credential:
    """``person``'s social-security card as a card reader gives it."""
    digest = hashlib.sha256(b"gongji-mock card\x1f" + person.id.number.encode()).hexdigest()
    region = person.insurance.region or person.id.region
    return Credential.social_card(
        f"{region[:2]}{int(digest[:12], 16) % 10**8:08d}",
        card_sn=digest[12:44].upper(),
        region=region,
        holder=person.id,
    )
