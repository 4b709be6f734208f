"""Scores once: NULL scores for failed probes, TTFT of any kind, time to first answer token.

Metric definitions version 2 (monitor.metrics.catalogue):
- the deadline scores become nullable and are NULL for every probe that is not `ok` (a 429 was
  stored with fluidity_index 1 and fluid true); this migration clears them on existing rows at
  once, so SQL over the table never counts a failure as fluid, even before `db recompute`;
- `ttfat_ns` (time to first answer token) is added; existing rows keep metrics_version 1, so
  `db recompute` (and reports, which rescore rows of an older version) fill it in.

Revision ID: 20261129_score
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_score"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NULLABLE_NOW = {
    "fluidity_index": sa.Float(),
    "fluidity_index_decode": sa.Float(),
    "missed_deadlines": sa.Integer(),
    "total_deadlines": sa.Integer(),
    "fluid": sa.Boolean(),
    "fluidity_25ms": sa.Float(),
    "fluidity_50ms": sa.Float(),
    "fluidity_100ms": sa.Float(),
    "fluidity_decode_25ms": sa.Float(),
    "fluidity_decode_50ms": sa.Float(),
    "fluidity_decode_100ms": sa.Float(),
}
"""Deadline scores, undefined for a probe that is not scored (failed, or no answer token)."""

TIMINGS = ("ttft_ns", "tpot_ns", "e2e_ns", "min_decode_deadline_ns")


def upgrade() -> None:
    op.add_column("probes", sa.Column("ttfat_ns", sa.BigInteger(), nullable=True))
    for name, type_ in NULLABLE_NOW.items():
        op.alter_column("probes", name, existing_type=type_, nullable=True)
    cleared = ", ".join(f"{c} = NULL" for c in (*NULLABLE_NOW, *TIMINGS))
    op.execute(f"UPDATE probes SET {cleared} WHERE outcome <> 'ok'")  # constants only


def downgrade() -> None:
    # version-1 semantics: an unscored probe had index 1 and no misses
    op.execute(
        "UPDATE probes SET fluidity_index = 1, fluidity_index_decode = 1, missed_deadlines = 0,"
        " total_deadlines = 0, fluid = true, fluidity_25ms = 1, fluidity_50ms = 1,"
        " fluidity_100ms = 1, fluidity_decode_25ms = 1, fluidity_decode_50ms = 1,"
        " fluidity_decode_100ms = 1, metrics_version = 0 WHERE fluid IS NULL"
    )
    for name, type_ in NULLABLE_NOW.items():
        op.alter_column("probes", name, existing_type=type_, nullable=False)
    op.drop_column("probes", "ttfat_ns")
