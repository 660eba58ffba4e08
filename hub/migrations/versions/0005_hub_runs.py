"""hub runs: when the hub was up, so that uptime counts its own outages as unknown

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alive_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_runs")),
    )
    op.create_index(op.f("ix_hub_runs_alive_at"), "hub_runs", ["alive_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hub_runs_alive_at"), table_name="hub_runs")
    op.drop_table("hub_runs")
