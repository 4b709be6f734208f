"""The change annotations' SQL runs on real PostgreSQL as the read-only Grafana role and returns
the stored change points in Grafana's annotation columns (time, timeend, text, tags)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.store import Store
from monitor.store.changes import ChangePoint, insert_changes
from tests.integration.grafana.test_sql_panels import (  # noqa: F401  (fixture)
    TARGETS,
    Role,
    _concrete_sql,
    _run,
    grafana_role,
)
from tests.unit.grafana.dashboard_files import dashboards


def _annotation_sql() -> list[tuple[str, str, str]]:
    """(dashboard, annotation name, SQL) of every raw-SQL annotation."""
    out = []
    for name, board in dashboards().items():
        for a in board.get("annotations", {}).get("list", []):
            if "rawSql" in a.get("target", {}):
                out.append((name, a["name"], a["target"]["rawSql"]))
    return out


def _point(target: str, direction: str, at: datetime) -> ChangePoint:
    return ChangePoint(
        target=target,
        region="eu-west",
        workload=256,
        metric="d_star",
        direction=direction,
        at=at,
        detected_at=at + timedelta(hours=5),
        before=0.02,
        before_low=0.019,
        before_high=0.021,
        after=0.0286,
        after_low=0.027,
        after_high=0.03,
        n_before=30,
        n_after=6,
        evidence={"p_value": 0.0004},
        recorded_at=at,
    )


async def test_change_annotations_return_the_stored_changes(
    store: Store,
    grafana_role: Role,  # noqa: F811
) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    points = [
        _point(TARGETS[0], "worse", at),
        _point(TARGETS[0], "better", at + timedelta(hours=8)),
        _point("not-selected", "worse", at),
    ]
    assert await insert_changes(store.engine, points) == 3
    found = _annotation_sql()
    assert {(d, n) for d, n, _ in found} == {
        (d, f"Changes ({w})")
        for d in ("sla-review.json", "target-drill-down.json")
        for w in ("worse", "better")
    }
    for board, name, sql in found:
        columns, rows = _run(grafana_role, _concrete_sql(sql, "-"))
        assert columns == ["time", "timeend", "text", "tags"], (board, name)
        direction = "worse" if "worse" in name else "better"
        expected = [p for p in points if p.direction == direction and p.target == TARGETS[0]]
        assert len(rows) == len(expected), (board, name)
        row: dict[str, Any] = dict(zip(columns, rows[0], strict=True))
        assert row["time"] == expected[0].at
        assert row["timeend"] == expected[0].detected_at
        assert row["text"] == (
            f"{TARGETS[0]} p256: d_star got {direction}, "
            "0.0200 [0.0190, 0.0210] -> 0.0286 [0.0270, 0.0300]"
        )
        assert row["tags"] == f"change,{direction},d_star,{TARGETS[0]}"
