"""index updated_at for snapshot refreshes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:48:40.929568
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ad_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ad_groups_updated_at"), ["updated_at"], unique=False)

    with op.batch_alter_table("ads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ads_updated_at"), ["updated_at"], unique=False)

    with op.batch_alter_table("advertisers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_advertisers_updated_at"), ["updated_at"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_updated_at"))

    with op.batch_alter_table("advertisers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_advertisers_updated_at"))

    with op.batch_alter_table("ads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ads_updated_at"))

    with op.batch_alter_table("ad_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_groups_updated_at"))
