"""Chronic and special diseases, written once: the patient's registrations (5301) and the
one a sale is settled under (med_type 14).

Asked only when needed: a purchase with ``chronic_disease`` set, or a till that shows the
cashier the patient's registrations (``client.chronic_diseases``). An ordinary sale never
pays for the round trip.
"""

from __future__ import annotations

import datetime

from gongji.chronic import choose
from gongji.errors import ConfigError
from gongji.flows.setup import Setup
from gongji.flows.steps import read, resolve_holder
from gongji.gateways import Capability, ChronicDiseaseGateway, Holder, require
from gongji.gateways.exchange import Flow
from gongji.identity import Credential
from gongji.model import ChronicDisease

__all__ = ["chronic_gateway", "disease_for", "registered", "registered_for"]


def chronic_gateway(setup: Setup) -> ChronicDiseaseGateway:
    """The client's gateway as one that knows chronic diseases; ``ConfigError`` before
    anything is sent when it does not declare them."""
    gateway = setup.gateway
    require(gateway, Capability.CHRONIC_DISEASES)
    if not isinstance(gateway, ChronicDiseaseGateway):
        raise ConfigError(
            f"The {gateway.name} adapter declares {Capability.CHRONIC_DISEASES.value!r} but "
            "has no chronic_diseases operation.",
            next_step="Fix the adapter (gongji.gateways.ChronicDiseaseGateway); nothing was sent.",
        )
    return gateway


def registered_for(setup: Setup, holder: Holder) -> Flow[tuple[ChronicDisease, ...]]:
    """The diseases the centre registered for ``holder`` (a read, repeated on a transport failure)."""
    gateway = chronic_gateway(setup)
    return (
        yield from read(
            setup,
            "Reading the chronic-disease registrations",
            lambda: gateway.chronic_diseases(holder),
        )
    )


def registered(setup: Setup, credential: Credential) -> Flow[tuple[ChronicDisease, ...]]:
    """The registrations of the credential's holder (1101, then 5301); nothing is charged."""
    chronic_gateway(setup)  # refused before the 1101 when the adapter has none
    _, holder = yield from resolve_holder(setup, credential)
    return (yield from registered_for(setup, holder))


def disease_for(
    setup: Setup, holder: Holder, code: str, day: datetime.date
) -> Flow[ChronicDisease]:
    """The registration of ``code`` in force on ``day`` for ``holder``; refused
    (``DiseaseNotRegistered``) with the cashier's sentence before anything is charged."""
    diseases = yield from registered_for(setup, holder)
    return choose(diseases, code, day)
