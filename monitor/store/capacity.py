"""Stored prefill profiles and capacity runs: write one, read the latest per target.

Separate from `Store`'s probe methods because these are written by one-shot commands, not by the
daemon's ingest path; both take the `AsyncEngine` of an open `Store` (`store.engine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.capacity.profile import PrefillProfile
from monitor.store.schema import capacity_runs, prefill_profiles


async def save_profile(engine: AsyncEngine, profile: PrefillProfile) -> int:
    async with engine.begin() as conn:
        row = await conn.execute(
            insert(prefill_profiles)
            .values(
                target=profile.target,
                model=profile.model,
                measured_at=profile.measured_at,
                coefficients=list(profile.coefficients),
                lengths=list(profile.lengths),
                min_ttft_s=list(profile.min_ttft_s),
                residuals_s=list(profile.residuals_s),
                repeats=profile.repeats,
                failed=profile.failed,
            )
            .returning(prefill_profiles.c.id)
        )
        return int(row.scalar_one())


def _profile(row: Any) -> PrefillProfile:
    c = tuple(float(x) for x in row.coefficients)
    return PrefillProfile(
        target=row.target,
        model=row.model,
        measured_at=row.measured_at,
        lengths=tuple(int(x) for x in row.lengths),
        min_ttft_s=tuple(float(x) for x in row.min_ttft_s),
        coefficients=(c[0], c[1], c[2]),
        residuals_s=tuple(float(x) for x in row.residuals_s),
        repeats=int(row.repeats),
        failed=int(row.failed),
    )


async def latest_profiles(
    engine: AsyncEngine, targets: Sequence[str] | None = None, until: datetime | None = None
) -> dict[str, PrefillProfile]:
    """Per target, its most recent profile (measured before `until`, when given)."""
    query = select(prefill_profiles).order_by(
        prefill_profiles.c.target,
        prefill_profiles.c.measured_at.desc(),
        prefill_profiles.c.id.desc(),
    )
    if targets is not None:
        query = query.where(prefill_profiles.c.target.in_(list(targets)))
    if until is not None:
        query = query.where(prefill_profiles.c.measured_at < until)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    latest: dict[str, PrefillProfile] = {}
    for row in rows:  # newest first within each target
        latest.setdefault(row.target, _profile(row))
    return latest


async def save_capacity(engine: AsyncEngine, document: dict[str, Any]) -> int:
    """Store a `capacity --json` document (`CapacityResult.to_json()`)."""
    async with engine.begin() as conn:
        row = await conn.execute(
            insert(capacity_runs)
            .values(
                target=document["target"],
                model=document["model"],
                started_at=datetime.fromisoformat(document["started_at"]),
                capacity=document["capacity"],
                client_limited_at_qps=document.get("client_limited_at_qps"),
                result=document,
            )
            .returning(capacity_runs.c.id)
        )
        return int(row.scalar_one())


async def capacity_documents(
    engine: AsyncEngine,
    since: datetime | None = None,
    until: datetime | None = None,
    targets: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Stored capacity documents, oldest first."""
    query = select(capacity_runs.c.result).order_by(capacity_runs.c.started_at, capacity_runs.c.id)
    if since is not None:
        query = query.where(capacity_runs.c.started_at >= since)
    if until is not None:
        query = query.where(capacity_runs.c.started_at < until)
    if targets:
        query = query.where(capacity_runs.c.target.in_(list(targets)))
    async with engine.connect() as conn:
        return [dict(r.result) for r in (await conn.execute(query)).all()]


async def profiles_between(
    engine: AsyncEngine,
    since: datetime | None = None,
    until: datetime | None = None,
    targets: Sequence[str] | None = None,
) -> list[PrefillProfile]:
    """Stored profiles, oldest first."""
    query = select(prefill_profiles).order_by(prefill_profiles.c.measured_at, prefill_profiles.c.id)
    if since is not None:
        query = query.where(prefill_profiles.c.measured_at >= since)
    if until is not None:
        query = query.where(prefill_profiles.c.measured_at < until)
    if targets:
        query = query.where(prefill_profiles.c.target.in_(list(targets)))
    async with engine.connect() as conn:
        return [_profile(r) for r in (await conn.execute(query)).all()]
