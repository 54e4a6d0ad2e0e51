"""gongji (共济): point-of-sale settlement for Chinese medical insurance.

Every public name is imported on first use (PEP 562): ``import gongji`` alone costs next
to nothing, so that ``gongji --help`` and a POS shell script's one command per sale start
quickly (bench/bench_startup.py). ``gongji.SettlementClient`` and
``from gongji import Purchase`` work as ever; type checkers read the imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gongji.lazy import exports

if TYPE_CHECKING:
    from gongji.client import AsyncSettlementClient, SettlementClient
    from gongji.errors import (
        ConfigError,
        Declined,
        DiseaseNotRegistered,
        EligibilityError,
        GatewayError,
        GongjiError,
        InvalidInput,
        JournalUnavailable,
        KinshipViolation,
        LeaseLost,
        LimitExceeded,
        OutcomeUnknown,
        OwnCardViolation,
        RegionViolation,
        SignatureError,
        Unavailable,
        UntrustedAnswer,
        UseViolation,
    )
    from gongji.identity import Credential, CredentialKind, IdNumber
    from gongji.model import (
        Binding,
        BindingStatus,
        Cash,
        Category,
        ChronicDisease,
        Coverage,
        Diagnosis,
        DiagnosisKind,
        Insurance,
        InsuranceKind,
        InsuranceStatus,
        Leg,
        LineItem,
        Packs,
        Person,
        PersonalAccount,
        Purchase,
        Purpose,
        Receipt,
        Refusal,
        Relation,
        RuleWarning,
        Setting,
        Visit,
    )
    from gongji.money import Fen, Rounding
    from gongji.premium import PremiumPayment, PremiumReceipt
    from gongji.reconciliation import Discrepancy, ReconciliationReport
    from gongji.rules.quote import Quote

__all__ = [
    "AsyncSettlementClient",
    "Binding",
    "BindingStatus",
    "Cash",
    "Category",
    "ChronicDisease",
    "ConfigError",
    "Coverage",
    "Credential",
    "CredentialKind",
    "Declined",
    "Diagnosis",
    "DiagnosisKind",
    "Discrepancy",
    "DiseaseNotRegistered",
    "EligibilityError",
    "Fen",
    "GatewayError",
    "GongjiError",
    "IdNumber",
    "Insurance",
    "InsuranceKind",
    "InsuranceStatus",
    "InvalidInput",
    "JournalUnavailable",
    "KinshipViolation",
    "LeaseLost",
    "Leg",
    "LimitExceeded",
    "LineItem",
    "OutcomeUnknown",
    "OwnCardViolation",
    "Packs",
    "Person",
    "PersonalAccount",
    "PremiumPayment",
    "PremiumReceipt",
    "Purchase",
    "Purpose",
    "Quote",
    "Receipt",
    "ReconciliationReport",
    "Refusal",
    "RegionViolation",
    "Relation",
    "Rounding",
    "RuleWarning",
    "Setting",
    "SettlementClient",
    "SignatureError",
    "Unavailable",
    "UntrustedAnswer",
    "UseViolation",
    "Visit",
]

#: Each public name, by the module it lives in (a test keeps it the same as ``__all__``).
_HOMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "AsyncSettlementClient",
            "SettlementClient",
        ),
        "gongji.client",
    ),
    **dict.fromkeys(
        (
            "ConfigError",
            "Declined",
            "DiseaseNotRegistered",
            "EligibilityError",
            "GatewayError",
            "GongjiError",
            "InvalidInput",
            "JournalUnavailable",
            "KinshipViolation",
            "LeaseLost",
            "LimitExceeded",
            "OutcomeUnknown",
            "OwnCardViolation",
            "RegionViolation",
            "SignatureError",
            "Unavailable",
            "UntrustedAnswer",
            "UseViolation",
        ),
        "gongji.errors",
    ),
    **dict.fromkeys(
        (
            "Credential",
            "CredentialKind",
            "IdNumber",
        ),
        "gongji.identity",
    ),
    **dict.fromkeys(
        (
            "Binding",
            "BindingStatus",
            "Cash",
            "Category",
            "ChronicDisease",
            "Coverage",
            "Diagnosis",
            "DiagnosisKind",
            "Insurance",
            "InsuranceKind",
            "InsuranceStatus",
            "Leg",
            "LineItem",
            "Packs",
            "Person",
            "PersonalAccount",
            "Purchase",
            "Purpose",
            "Receipt",
            "Refusal",
            "Relation",
            "RuleWarning",
            "Setting",
            "Visit",
        ),
        "gongji.model",
    ),
    **dict.fromkeys(
        (
            "Fen",
            "Rounding",
        ),
        "gongji.money",
    ),
    **dict.fromkeys(
        (
            "PremiumPayment",
            "PremiumReceipt",
        ),
        "gongji.premium",
    ),
    **dict.fromkeys(
        (
            "Discrepancy",
            "ReconciliationReport",
        ),
        "gongji.reconciliation",
    ),
    "Quote": "gongji.rules.quote",
}


__getattr__, __dir__ = exports(__name__, _HOMES)
