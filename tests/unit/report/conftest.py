"""A report built once per test session from the deterministic factory cycle."""

from datetime import UTC, datetime

import pytest

from monitor.config import Pricing, Target, Workload
from monitor.report.build import ReportInputs, build_report
from monitor.report.model import Report, Window
from monitor.trace import Trace
from tests.unit.report.factories import cycle_traces

GENERATED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PRICED = {
    "steady": Target(
        provider="openai",
        model="m",
        price=Pricing(input_per_1m=0.5, output_per_1m=1.5),
        workloads=Workload(prompt_tokens=[256, 1024, 4096], repetitions=2),
    )
}


def build(traces: list[Trace], **kwargs: object) -> Report:
    inputs = ReportInputs(
        traces=traces,
        generated_at=GENERATED,
        window=Window(since=None, until=None, cycle=None, source="test"),
        **kwargs,  # type: ignore[arg-type]
    )
    return build_report(inputs)


@pytest.fixture(scope="session")
def traces() -> list[Trace]:
    return cycle_traces()


@pytest.fixture(scope="session")
def report(traces: list[Trace]) -> Report:
    return build(traces, targets=PRICED)
