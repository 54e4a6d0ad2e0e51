"""The flows: every multi-step operation written once, as a sans-I/O generator."""

from gongji.flows.exchange import Flow, Pause, Step, exchange

__all__ = ["Flow", "Pause", "Step", "exchange"]
