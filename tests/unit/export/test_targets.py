"""Target and SLO gauges come straight from config."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from monitor.config import Settings
from monitor.export.targets import TargetCollector


def settings() -> Settings:
    return Settings(
        region="lab",
        targets={
            "sim-a": {
                "provider": "simulator",
                "base_url": "http://127.0.0.1:1/v1",
                "model": "sim-fast",
                "workloads": {"prompt_tokens": [512]},
                "slo": {"fluid_ratio": 0.95},
            },
            "sim-b": {
                "provider": "simulator",
                "base_url": "http://127.0.0.1:2/v1",
                "model": "sim-slow",
                "region": "eu",
                "workloads": {"prompt_tokens": [64]},
                "deadlines": {"prefill_s": 1.5},
            },
            "off": {
                "provider": "simulator",
                "base_url": "http://127.0.0.1:3/v1",
                "model": "m",
                "enabled": False,
            },
        },
    )


def test_target_gauges() -> None:
    registry = CollectorRegistry()
    registry.register(TargetCollector(settings(), interval_s=10.0))
    get = registry.get_sample_value
    info = {
        "target": "sim-a",
        "provider": "simulator",
        "model": "sim-fast",
        "region": "lab",
        "api": "openai-chat",
    }
    assert get("etalon_target_info", info) == 1
    assert get("etalon_target_slo_fluid_ratio", {"target": "sim-a", "region": "lab"}) == 0.95
    assert get("etalon_target_slo_fluid_ratio", {"target": "sim-b", "region": "eu"}) == 0.99
    # default prefill model at P = 512: 0.02 + 5e-5*512 + 2e-9*512^2 + 0.3 = 0.346124288
    assert get(
        "etalon_target_slo_ttft_seconds", {"target": "sim-a", "region": "lab", "workload": "p512"}
    ) == pytest.approx(0.346124288)
    assert (
        get(
            "etalon_target_slo_ttft_seconds", {"target": "sim-b", "region": "eu", "workload": "p64"}
        )
        == 1.5
    )
    assert get("etalon_target_probe_interval_seconds", {"target": "sim-b", "region": "eu"}) == 10.0
    assert get("etalon_target_slo_fluid_ratio", {"target": "off", "region": "lab"}) is None
