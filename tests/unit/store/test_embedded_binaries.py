"""Finding PostgreSQL binaries, and the error that names the three ways forward."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.store.embedded import Binaries, EmbeddedError, EmbeddedPostgres, find_binaries


def test_no_binaries_names_three_ways_forward(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedError) as info:
        find_binaries(search_path=str(tmp_path), lib_glob=str(tmp_path / "*" / "bin"))
    message = str(info.value)
    assert "install PostgreSQL" in message
    assert "ETALON_DATABASE__URL" in message
    assert "docker compose up" in message


def test_newest_versioned_directory_wins(tmp_path: Path) -> None:
    for version in ("9.6", "15", "13"):
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        for name in ("initdb", "pg_ctl"):
            (bindir / name).write_text("#!/bin/sh\n")
            (bindir / name).chmod(0o755)
    found = find_binaries(search_path=str(tmp_path / "empty"), lib_glob=str(tmp_path / "*" / "bin"))
    assert found.pg_ctl == tmp_path / "15" / "bin" / "pg_ctl"


def test_binaries_on_path_come_first(tmp_path: Path) -> None:
    for name in ("initdb", "pg_ctl"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    found = find_binaries(search_path=str(tmp_path), lib_glob=str(tmp_path / "none" / "*"))
    assert found.initdb == tmp_path / "initdb"


def test_a_long_data_dir_gets_a_short_stable_socket_dir(tmp_path: Path) -> None:
    """Unix socket paths are limited to ~107 bytes; two processes must agree on the fallback."""
    root = tmp_path / ("d" * 120)
    fake = Binaries(initdb=tmp_path / "initdb", pg_ctl=tmp_path / "pg_ctl")
    first, second = EmbeddedPostgres(root, binaries=fake), EmbeddedPostgres(root, binaries=fake)
    try:
        assert first.url == second.url
        assert len(first.url) < len(str(root))
    finally:
        first.destroy()
