"""The mock gateway: an insurance centre, WeChat Pay and Alipay in one process.

``MockGateway.demo()`` / ``MockGateway.load(path)`` and ``mock.transport()`` for
in-process use. What is here now: the dataset format, the centre's state and its
own decisions, the double-entry ledger, and the national-envelope endpoint.
WeChat Pay, Alipay, faults and the HTTP server follow.
"""

from gongji_mock.dataset import Dataset, load_dataset
from gongji_mock.gateway import MockGateway

__all__ = ["Dataset", "MockGateway", "load_dataset"]
