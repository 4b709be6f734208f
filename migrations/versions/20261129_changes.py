"""change_points: shifts found in per-probe series by change detection (monitor.detect).

Revision ID: 20261129_changes
Revises: 0001
Create Date: 2026-11-29 11:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_changes"
down_revision: str | Sequence[str] | None = "20261129_score"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_points",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column(
            "workload",
            sa.Integer(),
            nullable=False,
            comment="requested prompt length; 0 unknown",
        ),
        sa.Column("metric", sa.Text(), nullable=False, comment="a name from monitor.detect.series"),
        sa.Column("direction", sa.Text(), nullable=False, comment="worse | better"),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="first probe after the change",
        ),
        sa.Column(
            "detected_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="probe revealing it",
        ),
        sa.Column("before", sa.Float(), nullable=False),
        sa.Column("before_low", sa.Float(), nullable=False),
        sa.Column("before_high", sa.Float(), nullable=False),
        sa.Column("after", sa.Float(), nullable=False),
        sa.Column("after_low", sa.Float(), nullable=False),
        sa.Column("after_high", sa.Float(), nullable=False),
        sa.Column("n_before", sa.Integer(), nullable=False),
        sa.Column("n_after", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_points")),
        sa.UniqueConstraint(
            "target",
            "workload",
            "metric",
            "at",
            name=op.f("uq_change_points_target_workload_metric_at"),
        ),
        comment="Changes found in per-probe series (monitor.detect; docs/change-detection.md).",
    )
    op.create_index(op.f("ix_change_points_at"), "change_points", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_change_points_at"), table_name="change_points")
    op.drop_table("change_points")
