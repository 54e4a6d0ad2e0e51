"""The mock gateway: an insurance centre, WeChat Pay and Alipay in one process.

``MockGateway.demo()`` / ``MockGateway.load(path)`` and ``mock.transport()`` for
in-process use; ``gongji mock serve`` (``gongji_mock.server.asgi``) serves the same mock over
HTTP. Inside: the dataset format, the centre's state and its own decisions, the
double-entry ledger and the national-envelope endpoint; WeChat Pay (payment code,
refunds, medical-insurance orders) and Alipay; fault injection; callback delivery;
the admin endpoint (``/gongji-admin/``, the test keys included); and the state file
(``--state``) that keeps it all across restarts.
"""

from gongji_mock.centre.dataset import Dataset, load_dataset
from gongji_mock.gateway import MockGateway

__all__ = ["Dataset", "MockGateway", "load_dataset"]
