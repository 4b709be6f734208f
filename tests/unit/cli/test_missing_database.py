"""Reading commands in a data directory the daemon never used say so and create nothing."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [["report", "--format", "json", "--out", "-"], ["export"], ["db", "recompute"]],
)
def test_reading_an_unused_data_dir_names_the_problem(tmp_path: Path, args: list[str]) -> None:
    data = tmp_path / "never-used"
    env = {"ETALON_DATA_DIR": str(data), "ETALON_CONFIG": None, "ETALON_DATABASE__URL": None}
    result = runner.invoke(app, args, env=env)
    assert result.exit_code != 0
    assert "no monitor database in" in result.output
    assert str(data) in result.output.replace("\n", "")
    assert not (data / "postgres").exists(), "a reading command initialised an empty server"


def test_default_data_dir_is_reachable_by_the_embedded_server() -> None:
    """As root the embedded PostgreSQL runs as `postgres`, which cannot enter /root (mode 700):
    the demo's first start failed in initdb there."""
    import os  # noqa: PLC0415

    from monitor.config import DEFAULT_DATA_DIR  # noqa: PLC0415

    if os.geteuid() == 0:
        assert Path("/var/lib/etalon-monitor") == DEFAULT_DATA_DIR
    else:
        assert DEFAULT_DATA_DIR.name == "etalon-monitor"
        assert DEFAULT_DATA_DIR.is_relative_to(Path.home()) or "XDG_STATE_HOME" in os.environ
