"""The flows: every multi-step operation written once, as a sans-I/O generator.

``steps`` holds what they share; ``settle``, ``undo``, ``recover``, ``visit`` and
``reconcile`` are the operations; ``setup`` what a client hands them. The one shape
of a flow, and the exchange of one request, are ``gongji.gateways.exchange``: the
adapters' operations are flows too.
"""

from gongji.gateways.exchange import Flow, Pause, Step, exchange

__all__ = ["Flow", "Pause", "Step", "exchange"]
