"""alarm handling: acknowledgement, dispatch, escalation deadlines, the event stream, operators' centers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 21:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

def _alarm_columns() -> list[sa.Column[object]]:
    return [sa.Column("escalated_to", sa.String(length=64), nullable=True),
            sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("unit", sa.String(length=100), nullable=True)]


def upgrade() -> None:
    with op.batch_alter_table("alarms") as batch:
        for column in _alarm_columns():
            batch.add_column(column)
        batch.create_index(op.f("ix_alarms_escalated_to"), ["escalated_to"], unique=False)
    with op.batch_alter_table("alarm_history") as batch:
        batch.add_column(sa.Column("message", sa.Text(), nullable=True))
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("center_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=8), server_default="zh-CN", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("language")
        batch.drop_column("center_id")
    with op.batch_alter_table("alarm_history") as batch:
        batch.drop_column("message")
    with op.batch_alter_table("alarms") as batch:
        batch.drop_index(op.f("ix_alarms_escalated_to"))
        for column in reversed(_alarm_columns()):
            batch.drop_column(column.name)
