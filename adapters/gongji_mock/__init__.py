"""The mock gateway: an insurance centre, WeChat Pay and Alipay in one process.

This package grows with the mock-gateway issue. What is here now: the dataset
format (people, accounts, bindings), the built-in demo dataset, and the double-entry ledger.
"""

from gongji_mock.dataset import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
