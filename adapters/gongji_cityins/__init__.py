"""City insurance gateways for gongji: the national envelope, TIF or CSB signing per city."""

from gongji_cityins.gateway import CITIES, CityInsuranceGateway, CityProfile, Institution

__all__ = ["CITIES", "CityInsuranceGateway", "CityProfile", "Institution"]
