"""A sample gongji adapter plugin: the campus card (校园一卡通) as a payment channel.

``CampusCardChannel`` is the adapter; ``CampusCardOffice`` is an in-process fake of the
office it talks to, for tests and rehearsals. See the README beside pyproject.toml.
"""

from gongji_campuscard.fake import (
    DEMO_SECRET,
    DEMO_TERMINAL,
    PAYING_CODE,
    POOR_CODE,
    CampusCardOffice,
)
from gongji_campuscard.gateway import CampusCardChannel

__all__ = [
    "DEMO_SECRET",
    "DEMO_TERMINAL",
    "PAYING_CODE",
    "POOR_CODE",
    "CampusCardChannel",
    "CampusCardOffice",
]
