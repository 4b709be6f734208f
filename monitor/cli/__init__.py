"""The `etalon-monitor` command. Thin: each sub-command module parses, calls packages and renders.

Sub-commands live one per module and register themselves on `app` when imported below.
"""

from monitor.cli import analyze as _analyze  # noqa: F401  (registers the command)
from monitor.cli import capacity as _capacity  # noqa: F401  (registers the command)
from monitor.cli import config_check as _config_check  # noqa: F401  (registers the command)
from monitor.cli import db as _db  # noqa: F401  (registers the command)
from monitor.cli import probe as _probe  # noqa: F401  (registers the command)
from monitor.cli import profile as _profile  # noqa: F401  (registers the command)
from monitor.cli import report as _report  # noqa: F401  (registers the command)
from monitor.cli import run as _run  # noqa: F401  (registers the command)
from monitor.cli import simulate as _simulate  # noqa: F401  (registers the command)
from monitor.cli import transfer as _transfer  # noqa: F401  (registers the command)
from monitor.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
