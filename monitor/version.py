"""The installed distribution's version: `--version`, the `etalon_build_info` series, reports."""

from importlib import metadata


def version() -> str:
    """`0+unknown` when run from a source tree that was never installed."""
    try:
        return metadata.version("etalon-monitor")
    except metadata.PackageNotFoundError:
        return "0+unknown"
