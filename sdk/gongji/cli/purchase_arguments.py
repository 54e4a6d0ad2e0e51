"""The purchase's arguments of ``gongji preview`` and ``gongji settle``: the file, given
positionally (``gongji preview FILE``, as a POS shell script writes it) or as
``--purchase FILE``, or the purchase as flags. Reading them is ``purchase``'s.

Only argparse here: ``gongji --help`` imports this module, not the model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["FLAGS", "FORMAT_DOC", "ITEM_FORMAT", "PURPOSES", "SETTINGS", "add_arguments"]

#: How errors name a purchase given as flags.
FLAGS = "the flags"
#: Where the format is described, said in every error about it.
FORMAT_DOC = "docs/reference/cli.md#the-purchase-file"
ITEM_FORMAT = "CODE:NAME:PRICE_YUAN[:QTY[:COVERAGE[:CATEGORY]]]"
#: ``gongji.Purpose`` and ``gongji.Setting``'s values, written out for the help text (a
#: test keeps them the same as the model's).
PURPOSES = (
    "medical",
    "resident_premium",
    "vaccine",
    "physical_exam",
    "supplementary_insurance",
    "flexible_employment_premium",
    "long_term_care",
    "commercial_insurance",
)
SETTINGS = ("pharmacy", "outpatient")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``FILE`` or ``--purchase FILE``, or the purchase as flags."""
    parser.add_argument(
        "file",
        metavar="FILE",
        type=Path,
        nargs="?",
        help=f"the purchase, a TOML or JSON file ({FORMAT_DOC}); the same as --purchase FILE",
    )
    parser.add_argument(
        "--purchase",
        metavar="FILE",
        type=Path,
        help=f"the purchase, a TOML or JSON file ({FORMAT_DOC}); or give it with the flags below",
    )
    flags = parser.add_argument_group("the purchase as flags (instead of a file)")
    credential = flags.add_mutually_exclusive_group()
    credential.add_argument("--e-voucher", metavar="TOKEN", help="the e-voucher (QR code) token")
    credential.add_argument("--id-card", metavar="NUMBER", help="the resident ID card's number")
    flags.add_argument(
        "--item",
        action="append",
        metavar=ITEM_FORMAT,
        help="a line of the basket, repeatable; e.g. --item 'X01:感冒灵颗粒:12.50:2' "
        "(coverage A, B or C, default A; category default drug)",
    )
    flags.add_argument("--purpose", help=f"one of {', '.join(PURPOSES)}")
    flags.add_argument("--setting", help=f"one of {', '.join(SETTINGS)}")
    flags.add_argument("--patient", metavar="ID", help="the ID number of who is treated")
    flags.add_argument("--agent", metavar="ID", help="the ID number of who presents it (proxy)")
    flags.add_argument(
        "--use-mutual-aid",
        action="store_const",
        const=True,
        help="the patient asks to pay from relatives' accounts (family mutual aid); "
        "without it no relative's account is drawn",
    )
    flags.add_argument(
        "--chronic-disease",
        metavar="CODE",
        help="settle under this chronic or special disease the patient is registered for "
        "(门诊慢特病, med_type 14); checked against the centre's registrations (5301)",
    )
