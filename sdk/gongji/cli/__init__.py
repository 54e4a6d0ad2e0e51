"""The ``gongji`` command (console script ``gongji = "gongji.cli:main"``), one module per
command group; see ``gongji.cli.main``."""

from gongji.cli.main import argument_parser, main

__all__ = ["argument_parser", "main"]
