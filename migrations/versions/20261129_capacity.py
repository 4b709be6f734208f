"""Prefill profiles and capacity runs (`etalon-monitor profile` / `capacity`).

Revision ID: 20261129_capacity
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_capacity"
down_revision: str | Sequence[str] | None = "20261129_fluidity_scope"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prefill_profiles",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "coefficients",
            sa.ARRAY(sa.Float()),
            nullable=False,
            comment="c0, c1, c2 of D_p(P), seconds",
        ),
        sa.Column("lengths", sa.ARRAY(sa.Integer()), nullable=False),
        sa.Column("min_ttft_s", sa.ARRAY(sa.Float()), nullable=False),
        sa.Column("residuals_s", sa.ARRAY(sa.Float()), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prefill_profiles")),
        comment="`etalon-monitor profile`: isolated prefill TTFT per prompt length and its fit.",
    )
    op.create_index(
        op.f("ix_prefill_profiles_target_measured_at"),
        "prefill_profiles",
        ["target", "measured_at"],
        unique=False,
    )
    op.create_table(
        "capacity_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.JSON(), nullable=False, comment="per SLO: capacity_qps, status"),
        sa.Column("client_limited_at_qps", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False, comment="the `capacity --json` document"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capacity_runs")),
        comment="`etalon-monitor capacity`: one search, its steps and every SLO's verdicts.",
    )
    op.create_index(
        op.f("ix_capacity_runs_target_started_at"),
        "capacity_runs",
        ["target", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_capacity_runs_target_started_at"), table_name="capacity_runs")
    op.drop_table("capacity_runs")
    op.drop_index(op.f("ix_prefill_profiles_target_measured_at"), table_name="prefill_profiles")
    op.drop_table("prefill_profiles")
