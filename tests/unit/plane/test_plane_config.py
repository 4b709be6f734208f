"""`probe:`: how many workers, how the core yields to them, when a worker is replaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.config import ConfigError, ProbePlane, default_workers, load

DATA = Path(__file__).parent.parent.parent / "data" / "config"


def test_the_full_config_sets_every_plane_option() -> None:
    plane = load(DATA / "good" / "full.yaml").probe
    assert plane == ProbePlane(
        workers=2, core_nice=10, rss_limit_mb=256, heartbeat_s=1.0, stuck_after_s=20.0
    )


def test_the_default_is_one_worker_per_four_cores_between_one_and_four() -> None:
    cores = os.cpu_count() or 1
    assert default_workers() == min(4, max(1, cores // 4))
    assert load(DATA / "good" / "minimal.yaml").probe.workers == default_workers()


def test_a_worker_must_be_given_time_for_two_heartbeats(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "targets: {a: {provider: simulator, base_url: 'http://127.0.0.1:1/v1', model: m}}\n"
        "probe: {heartbeat_s: 1, stuck_after_s: 2}\n"
    )
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.problems == ["probe: stuck_after_s must be longer than two heartbeats"]


def test_workers_and_nice_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "targets: {a: {provider: simulator, base_url: 'http://127.0.0.1:1/v1', model: m}}\n"
        "probe: {workers: 0, core_nice: 20}\n"
    )
    with pytest.raises(ConfigError) as info:
        load(path)
    assert [p.split(":")[0] for p in info.value.problems] == ["probe.workers", "probe.core_nice"]
