"""Snapshots say which shape of the state they hold, so a palabre that reads another shape
replays the log instead of misreading them. Snapshots from before have none (NULL).

Revision ID: 0002
Revises: 0001
Created: 2025-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("snapshot", sa.Column("state_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshot") as table:
        table.drop_column("state_version")
