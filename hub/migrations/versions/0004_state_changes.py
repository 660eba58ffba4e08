"""state changes of cameras and devices, for uptime from history; indexes for the daily figures

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 21:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "state_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_changes")),
    )
    op.create_index(op.f("ix_state_changes_kind_object_id_at"), "state_changes", ["kind", "object_id", "at"],
                    unique=False)
    op.create_index(op.f("ix_alarms_received_at"), "alarms", ["received_at"], unique=False)
    op.create_index(op.f("ix_alarm_history_at"), "alarm_history", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_alarm_history_at"), table_name="alarm_history")
    op.drop_index(op.f("ix_alarms_received_at"), table_name="alarms")
    op.drop_index(op.f("ix_state_changes_kind_object_id_at"), table_name="state_changes")
    op.drop_table("state_changes")
