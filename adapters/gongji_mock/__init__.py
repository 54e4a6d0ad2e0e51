"""The mock gateway: an insurance centre, WeChat Pay and Alipay in one process.

``MockGateway.demo()`` / ``MockGateway.load(path)`` and ``mock.transport()`` for
in-process use; ``gongji mock serve`` (``gongji_mock.server.asgi``) serves the same mock over
HTTP. Inside: the dataset format, the centre's state and its own decisions, the
double-entry ledger and the national-envelope endpoint; WeChat Pay (payment code,
refunds, medical-insurance orders) and Alipay; fault injection; callback delivery;
the admin endpoint (``/gongji-admin/``, the test keys included); and the state file
(``--state``) that keeps it all across restarts.
"""

from typing import TYPE_CHECKING

from gongji.lazy import exports

# Imported on first use: loading the plugin (every `gongji` command does) costs nothing.
if TYPE_CHECKING:
    from gongji_mock.centre.dataset import Dataset, load_dataset
    from gongji_mock.gateway import MockGateway

__all__ = ["Dataset", "MockGateway", "load_dataset"]

__getattr__, __dir__ = exports(
    __name__,
    {
        "Dataset": "gongji_mock.centre.dataset",
        "load_dataset": "gongji_mock.centre.dataset",
        "MockGateway": "gongji_mock.gateway",
    },
)
