"""Delivery rows are found by hour, and an ad group's or campaign's by its hours

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 04:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The serving workers' spend catch-up reads the last hours of every ad group and the hours
# of the ad groups and campaigns with a lifetime budget; without these it read the whole
# table each time.
INDEXES = {
    "ix_delivery_hourly_hour": ["hour"],
    "ix_delivery_hourly_ad_group_id_hour": ["ad_group_id", "hour"],
    "ix_delivery_hourly_campaign_id_hour": ["campaign_id", "hour"],
}


def upgrade() -> None:
    with op.batch_alter_table("delivery_hourly") as batch:
        for name, columns in INDEXES.items():
            batch.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery_hourly") as batch:
        for name in INDEXES:
            batch.drop_index(name)
