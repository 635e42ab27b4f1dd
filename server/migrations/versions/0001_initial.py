"""The first schema: assemblies, their event log, snapshots of their state and invite links.

Revision ID: 0001
Revises:
Created: 2025-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than imported from the store: a migration must not change when the
# models do. On SQLite only INTEGER PRIMARY KEY numbers itself.
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assembly",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("created_at", INSTANT, nullable=False),
    )
    op.create_table(
        "event",
        sa.Column("id", POSITION, primary_key=True, autoincrement=True),
        sa.Column("assembly_id", sa.String(), nullable=False),
        sa.Column("room", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["assembly_id"], ["assembly.id"], name="fk_event_assembly"),
        sa.UniqueConstraint("assembly_id", "room", "seq", name="uq_event_stream_seq"),
    )
    op.create_index("ix_event_assembly_position", "event", ["assembly_id", "id"])
    op.create_table(
        "snapshot",
        sa.Column("id", POSITION, primary_key=True, autoincrement=True),
        sa.Column("assembly_id", sa.String(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(["assembly_id"], ["assembly.id"], name="fk_snapshot_assembly"),
    )
    op.create_index("ix_snapshot_assembly_position", "snapshot", ["assembly_id", "position"])
    op.create_table(
        "invite",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("assembly_id", sa.String(), nullable=False),
        sa.Column("participant_id", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("expires_at", INSTANT, nullable=False),
        sa.Column("revoked_at", INSTANT, nullable=True),
        sa.ForeignKeyConstraint(["assembly_id"], ["assembly.id"], name="fk_invite_assembly"),
        sa.UniqueConstraint("token_hash", name="uq_invite_token_hash"),
    )
    op.create_index("ix_invite_assembly_id", "invite", ["assembly_id"])


def downgrade() -> None:
    op.drop_table("invite")
    op.drop_table("snapshot")
    op.drop_table("event")
    op.drop_table("assembly")
