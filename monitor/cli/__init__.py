"""The `etalon-monitor` command. Thin: each sub-command module parses, calls packages and renders.

Sub-commands live one per module, are listed in `monitor.cli.app.COMMANDS` and are imported only
when they run (see `LazyGroup`), so `--help` and `--version` stay fast.
"""

from monitor.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
