"""probes.fluidity_scope: which chunks a probe is scored on (answer, or all visible chunks).

Revision ID: 20261129_fluidity_scope
Revises: 0001
Create Date: 2026-11-29 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_fluidity_scope"
down_revision: str | Sequence[str] | None = "20261129_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a constant default: no table rewrite, also on the partitioned table's existing partitions
    op.add_column(
        "probes",
        sa.Column("fluidity_scope", sa.Text(), server_default="answer", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("probes", "fluidity_scope")
