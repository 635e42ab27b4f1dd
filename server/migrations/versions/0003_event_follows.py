"""Each batch of events names the position it was decided after, once per assembly: two writers
that decided on the same log cannot both commit, without a lock or a read before the insert.

The first event of each batch written from now on carries `follows` (the assembly's last
position when the batch was decided, 0 for none); the others NULL. Events written before are
each taken as a batch of their own, following the assembly's event before them, so a writer
that decided on any earlier position still meets the event that came after it.

Revision ID: 0003
Revises: 0002
Created: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLLOWED = "follows IS NOT NULL"


def upgrade() -> None:
    op.add_column("event", sa.Column("follows", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE event SET follows = COALESCE((SELECT max(earlier.id) FROM event AS earlier"
        " WHERE earlier.assembly_id = event.assembly_id AND earlier.id < event.id), 0)"
    )
    op.create_index(
        "uq_event_follows",
        "event",
        ["assembly_id", "follows"],
        unique=True,
        sqlite_where=sa.text(FOLLOWED),
        postgresql_where=sa.text(FOLLOWED),
    )


def downgrade() -> None:
    op.drop_index("uq_event_follows", table_name="event")
    with op.batch_alter_table("event") as table:
        table.drop_column("follows")
