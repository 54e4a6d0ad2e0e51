"""City insurance gateways for gongji: the national envelope, TIF or CSB signing per city."""

from typing import TYPE_CHECKING

from gongji.lazy import exports

# Imported on first use: loading the plugin (every `gongji` command does) costs nothing.
if TYPE_CHECKING:
    from gongji_cityins.gateway import CITIES, CityInsuranceGateway, CityProfile, Institution

__all__ = ["CITIES", "CityInsuranceGateway", "CityProfile", "Institution"]

__getattr__, __dir__ = exports(
    __name__,
    {
        "CITIES": "gongji_cityins.gateway",
        "CityInsuranceGateway": "gongji_cityins.gateway",
        "CityProfile": "gongji_cityins.gateway",
        "Institution": "gongji_cityins.gateway",
    },
)
