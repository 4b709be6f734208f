"""Every SQL panel runs on a real PostgreSQL with the store's schema, as the read-only Grafana
role that grafana/sql/readonly-role.sql creates (through psql, as the compose init script does),
and returns the numbers the ingested probes imply."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url

from monitor.store import Store
from monitor.trace import Outcome, Trace
from tests.factories import trace_stream
from tests.unit.grafana.dashboard_files import GRAFANA, Query, sql_queries, variable_queries

ROLE_SQL = GRAFANA / "sql" / "readonly-role.sql"
TARGETS = ("sim-fast", "sim-slow")
WORKLOADS = (256, 1024)
TRACE_COUNT = 60  # every 20 minutes over the last 20 hours


@dataclass(frozen=True)
class Role:
    name: str
    conninfo: str


def _conninfo(url: str, **changes: Any) -> str:
    u = make_url(url).set(drivername="postgresql", **changes)
    return u.render_as_string(hide_password=False)


@pytest.fixture
def grafana_role(database_url: str) -> Iterator[Role]:
    """The read-only role, created by psql from the shipped SQL file; dropped afterwards."""
    name = f"etalon_grafana_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    admin = _conninfo(database_url)
    url = make_url(database_url)
    done = subprocess.run(
        [
            "psql", admin, "-v", "ON_ERROR_STOP=1", "-q",
            "-v", f"role={name}", "-v", f"password={password}",
            "-v", f"database={url.database}", "-v", f"owner={url.username}",
            "-f", str(ROLE_SQL),
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    try:
        yield Role(name, _conninfo(database_url, username=name, password=password))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{name}"')
            conn.execute(f'DROP ROLE "{name}"')


@pytest.fixture
async def probes_stored(store: Store, grafana_role: Role) -> list[Trace]:
    """Probes of the last 20 hours, stored after the role exists (new partitions included)."""
    now = datetime.now(UTC)
    start = now - timedelta(hours=20)
    traces = list(
        trace_stream(
            TRACE_COUNT, start=start, every=timedelta(minutes=20), targets=TARGETS,
            workloads=WORKLOADS,
        )
    )  # fmt: skip
    for trace in traces:
        await store.ingest(trace)
    for name in TARGETS:
        await store.register_target(name, {"provider": "simulator", "model": "sim-1"}, now)
    return traces


def _concrete_sql(sql: str, probe_id: str) -> str:
    now = datetime.now(UTC)
    since, until = (now - timedelta(days=7)).isoformat(), (now + timedelta(hours=1)).isoformat()
    text = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN '{since}' AND '{until}'", sql)
    text = text.replace("'$target'", f"'{TARGETS[0]}'")
    text = text.replace("$target", ", ".join(f"'{t}'" for t in TARGETS))
    text = text.replace("$workload", ", ".join(f"'p{w}'" for w in WORKLOADS))
    text = text.replace("'$probe_id'", f"'{probe_id}'")
    assert "$" not in text, text
    return text


def _run(role: Role, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with psycopg.connect(role.conninfo) as conn:
        cur = conn.execute(sql)  # generated from the dashboards, not user input
        columns = [d.name for d in cur.description or []]
        return columns, cur.fetchall()


def _by_title(title: str) -> Query:
    (query,) = [q for q in sql_queries() if q.panel.startswith(title)]
    return query


def _first_ok(traces: list[Trace], target: str = TARGETS[0]) -> Trace:
    return next(t for t in traces if t.outcome is Outcome.OK and t.target == target)


async def test_every_sql_panel_runs_read_only_and_returns_rows(
    probes_stored: list[Trace], grafana_role: Role
) -> None:
    probe = _first_ok(probes_stored)
    queries = sql_queries()
    assert len(queries) >= 12
    for query in queries:
        columns, rows = _run(grafana_role, _concrete_sql(query.text, probe.probe_id))
        assert rows, f"{query.dashboard}: {query.panel!r} returned no rows"
        if query.fmt == "time_series":
            assert columns[0] == "time", f"{query.dashboard}: {query.panel!r}"
            assert all(isinstance(r[0], datetime) for r in rows)


async def test_sql_variable_lists_the_registered_targets(
    probes_stored: list[Trace], grafana_role: Role
) -> None:
    ((_, query),) = variable_queries("grafana-postgresql-datasource")
    _, rows = _run(grafana_role, query)
    assert [r[0] for r in rows] == sorted(TARGETS)


async def test_the_grafana_role_cannot_write(
    probes_stored: list[Trace], grafana_role: Role
) -> None:
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        _run(grafana_role, "DELETE FROM probes")
    with psycopg.connect(grafana_role.conninfo, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM probes")


async def test_sla_summary_counts_every_probe_of_the_last_24_hours(
    probes_stored: list[Trace], grafana_role: Role
) -> None:
    # All probes started within the last 20 h, so the 24 h, 7 d and 30 d tables agree.
    expected: Counter[tuple[str, str]] = Counter()
    ok: Counter[tuple[str, str]] = Counter()
    for t in probes_stored:
        key = (t.target or "", f"p{t.requested_prompt_tokens}")
        expected[key] += 1
        ok[key] += t.outcome is Outcome.OK
    for window in ("Last 24 h", "Last 7 d", "Last 30 d"):
        columns, rows = _run(grafana_role, _concrete_sql(_by_title(window).text, "-"))
        table = [dict(zip(columns, r, strict=True)) for r in rows]
        assert {(r["target"], r["workload"]): r["probes"] for r in table} == dict(expected)
        assert {(r["target"], r["workload"]): r["ok"] for r in table} == dict(ok)
        for r in table:
            # trace_stream draws TTFT uniformly from 150..600 ms.
            assert 0.15 <= float(r["TTFT p50"]) <= 0.6
            assert 0.0 <= r["fluidity P99"] <= 1.0
            assert r["deadline SLO met"] == (r["miss rate Q99"] <= 0.1)


async def test_failures_by_outcome_match_the_stored_failures(
    probes_stored: list[Trace], grafana_role: Role
) -> None:
    failed = Counter(
        (t.target, t.outcome.value) for t in probes_stored if t.outcome is not Outcome.OK
    )
    assert failed, "the seeded stream has failures"
    columns, rows = _run(grafana_role, _concrete_sql(_by_title("Failures by outcome").text, "-"))
    table = [dict(zip(columns, r, strict=True)) for r in rows]
    assert {(r["target"], r["outcome"]): r["probes"] for r in table} == dict(failed)


async def test_token_timeline_and_chunks_of_one_probe(
    probes_stored: list[Trace], grafana_role: Role
) -> None:
    probe = _first_ok(probes_stored)
    _, rows = _run(grafana_role, _concrete_sql(_by_title("Token timeline").text, probe.probe_id))
    assert len(rows) == len(probe.chunks)
    received = 0
    for (tokens, arrival, deadline), chunk in zip(rows, probe.chunks, strict=True):
        received += chunk.tokens
        assert tokens == received
        assert float(arrival) == pytest.approx(chunk.t_ns / 1e9)
        # make_trace judges against D_p = 0.452 s and the first decode tier, 25 ms.
        assert float(deadline) == pytest.approx(0.452 + (received - 1) * 0.025)
    columns, rows = _run(grafana_role, _concrete_sql(_by_title("Chunks").text, probe.probe_id))
    first = dict(zip(columns, rows[0], strict=True))
    assert float(first["gap"]) == pytest.approx(probe.chunks[0].t_ns / 1e9)
    assert float(first["allowance"]) == pytest.approx(0.452)
    second = dict(zip(columns, rows[1], strict=True))
    gap = (probe.chunks[1].t_ns - probe.chunks[0].t_ns) / 1e9
    assert float(second["gap"]) == pytest.approx(gap)
    assert second["late"] == (gap > 0.025 * probe.chunks[1].tokens)


async def test_stalls_by_position_cover_every_gap_of_the_target(
    probes_stored: list[Trace], grafana_role: Role
) -> None:
    gaps = sum(
        len(t.chunks) - 1
        for t in probes_stored
        if t.outcome is Outcome.OK and t.target == TARGETS[0]
    )
    columns, rows = _run(grafana_role, _concrete_sql(_by_title("Stalls by position").text, "-"))
    assert columns == ["position", "stalls", "chunks"]
    assert sum(r[2] for r in rows) == gaps
    assert [r[0] for r in rows] == sorted(
        (r[0] for r in rows), key=lambda label: int(label.removesuffix(" %"))
    )
    assert {r[0] for r in rows} <= {f"{d} %" for d in range(10, 101, 10)}
    assert all(0 <= r[1] <= r[2] for r in rows)
