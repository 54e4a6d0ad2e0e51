"""gongji (共济): point-of-sale settlement for Chinese medical insurance."""

from gongji.errors import (
    ConfigError,
    Declined,
    EligibilityError,
    GatewayError,
    GongjiError,
    InvalidInput,
    KinshipViolation,
    LimitExceeded,
    OutcomeUnknown,
    OwnCardViolation,
    RegionViolation,
    SignatureError,
    Unavailable,
    UseViolation,
)
from gongji.identity import Credential, CredentialKind, IdNumber
from gongji.money import Fen, Rounding

__all__ = [
    "ConfigError",
    "Credential",
    "CredentialKind",
    "Declined",
    "EligibilityError",
    "Fen",
    "GatewayError",
    "GongjiError",
    "IdNumber",
    "InvalidInput",
    "KinshipViolation",
    "LimitExceeded",
    "OutcomeUnknown",
    "OwnCardViolation",
    "RegionViolation",
    "Rounding",
    "SignatureError",
    "Unavailable",
    "UseViolation",
]
