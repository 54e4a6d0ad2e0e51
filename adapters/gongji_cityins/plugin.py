"""Registers the city insurance gateway (``cityins``) and the national e-voucher terminal
service's decoder (``national-terminal``) through ``gongji_register_adapters``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gongji.hookspecs import hookimpl

# The registry's type only: loading a plugin (every `gongji` command does) imports no gateway.
if TYPE_CHECKING:
    from gongji.gateways.registry import RegisterAdapter


@hookimpl
def gongji_register_adapters(register: RegisterAdapter) -> None:
    from gongji_cityins.gateway import (
        CityInsuranceGateway,  # when called: loading the plugin costs nothing
    )

    register(
        "cityins",
        CityInsuranceGateway.from_settings,
        kind="insurance",
        capabilities=CityInsuranceGateway.DECLARED,
    )
    from gongji_cityins.voucher import NationalTerminalDecoder

    register("national-terminal", NationalTerminalDecoder.from_settings, kind="decoder")
