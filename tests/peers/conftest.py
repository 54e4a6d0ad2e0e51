"""Other people's SDKs against ``gongji mock serve``: uvicorn on 127.0.0.1 (an ephemeral
port, in a thread), real HTTP, each SDK's own signing and verification. The only thing
changed in an SDK is its base URL."""

from tests.mock.test_http import served  # noqa: F401 - the served mock, one fixture for all
