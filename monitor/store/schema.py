"""The database schema: targets, cycles, rounds and probes (SQLAlchemy Core tables).

One row per probe keeps the raw chunks as arrays plus summary columns computed at ingest, so reports
and rolling windows read a few numbers per probe while any metric can still be re-derived from the
chunks (`db recompute`). `probes` is range-partitioned by `started_at`, one partition per UTC day
(`partitions.py`); its primary key must therefore include `started_at`.

The migrations in `migrations/versions/` create exactly these tables; `alembic check` (run by the
tests) fails when the two drift apart.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
)

from monitor.metrics.catalogue import CATALOGUE, FIXED_TIERS_MS, METRIC_DEFINITIONS_VERSION

__all__ = ["FIXED_TIERS_MS", "METRIC_DEFINITIONS_VERSION"]

SQL_TYPES: Final[dict[str, Any]] = {
    "smallint": SmallInteger,
    "integer": Integer,
    "bigint": BigInteger,
    "float": Float,
    "boolean": Boolean,
}
"""The catalogue's column types (monitor.metrics stays free of SQLAlchemy)."""

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

targets = Table(
    "targets",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("config_hash", Text, nullable=False),
    Column("config", JSON, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    UniqueConstraint("name", "config_hash"),
    comment="Each configured target; a new row whenever its configuration changes.",
)

cycles = Table(
    "cycles",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("region", Text, nullable=False),
    Column("rounds_planned", Integer, nullable=False),
    Column("config_hash", Text, nullable=False, server_default=""),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index(None, "region", "started_at"),
)

rounds = Table(
    "rounds",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("cycle_id", BigInteger, ForeignKey("cycles.id", ondelete="CASCADE"), nullable=False),
    Column("round_index", Integer, nullable=False),
    Column("target", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("probes", Integer, nullable=False, server_default="0"),
    UniqueConstraint("cycle_id", "round_index", "target"),
)

probes = Table(
    "probes",
    metadata,
    # identity
    Column("probe_id", Text, primary_key=True),
    Column("started_at", DateTime(timezone=True), primary_key=True),
    Column("target", Text, nullable=False),
    Column("target_config_id", BigInteger),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("api", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("workload", Integer, comment="the requested prompt length"),
    Column("prompt_tokens", Integer),
    Column("max_tokens", Integer),
    Column("cycle_id", BigInteger),
    Column("round_index", Integer),
    # outcome
    Column("outcome", Text, nullable=False),
    Column("http_status", SmallInteger),
    Column("error", Text),
    Column("finish_reason", Text),
    # phases, usage, client health, vendor extras (json keeps key order: exports are byte-stable)
    Column("phases_ns", JSON, nullable=False),
    Column("token_count_source", Text, nullable=False),
    Column("usage", JSON),
    Column("client", JSON, nullable=False),
    Column("loop_lag_max_ns", BigInteger),
    Column("meta", JSON),
    # the deadlines the trace carried (NULL: none; the used ones are in the summary columns)
    Column("has_deadlines", Boolean, nullable=False, server_default="false"),
    Column("deadline_prefill_s", Float),
    Column("deadline_decode_s", ARRAY(Float)),
    # chunks
    Column("chunk_t_ns", ARRAY(BigInteger), nullable=False),
    Column("chunk_tokens", ARRAY(SmallInteger), nullable=False),
    Column("chunk_kinds", ARRAY(SmallInteger), comment="NULL: all content; 0 content, 1 reasoning"),
    Column("chunk_texts", ARRAY(Text), comment="NULL when not stored"),
    Column("fluidity_scope", Text, nullable=False, server_default="answer"),
    # summary columns: the ScoreRecord of each probe, declared in monitor.metrics.catalogue
    *(Column(m.name, SQL_TYPES[m.sql], nullable=m.nullable) for m in CATALOGUE),
    Index(None, "started_at", postgresql_using="brin"),
    Index(None, "target", "started_at"),
    postgresql_partition_by="RANGE (started_at)",
)

prefill_profiles = Table(
    "prefill_profiles",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("target", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("measured_at", DateTime(timezone=True), nullable=False),
    Column("coefficients", ARRAY(Float), nullable=False, comment="c0, c1, c2 of D_p(P), seconds"),
    Column("lengths", ARRAY(Integer), nullable=False),
    Column("min_ttft_s", ARRAY(Float), nullable=False),
    Column("residuals_s", ARRAY(Float), nullable=False),
    Column("repeats", Integer, nullable=False),
    Column("failed", Integer, nullable=False, server_default="0"),
    Index(None, "target", "measured_at"),
    comment="`etalon-monitor profile`: isolated prefill TTFT per prompt length and its fit.",
)

capacity_runs = Table(
    "capacity_runs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("target", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("capacity", JSON, nullable=False, comment="per SLO: capacity_qps, status"),
    Column("client_limited_at_qps", Float),
    Column("result", JSON, nullable=False, comment="the `capacity --json` document"),
    Index(None, "target", "started_at"),
    comment="`etalon-monitor capacity`: one search, its steps and every SLO's verdicts.",
)

PARTITIONED_TABLE: Final = "probes"

change_points = Table(
    "change_points",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("target", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("workload", Integer, nullable=False, comment="requested prompt length; 0 unknown"),
    Column("metric", Text, nullable=False, comment="a name from monitor.detect.series"),
    Column("direction", Text, nullable=False, comment="worse | better"),
    Column("at", DateTime(timezone=True), nullable=False, comment="first probe after the change"),
    Column("detected_at", DateTime(timezone=True), nullable=False, comment="probe revealing it"),
    Column("before", Float, nullable=False),
    Column("before_low", Float, nullable=False),
    Column("before_high", Float, nullable=False),
    Column("after", Float, nullable=False),
    Column("after_low", Float, nullable=False),
    Column("after_high", Float, nullable=False),
    Column("n_before", Integer, nullable=False),
    Column("n_after", Integer, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("target", "workload", "metric", "at"),
    Index(None, "at"),
    comment="Changes found in per-probe series (monitor.detect; docs/change-detection.md).",
)
