"""delivery and auction logs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 23:10:40.936884
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ad_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("impression_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("ad_id", sa.String(length=40), nullable=False),
        sa.Column("ad_group_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("advertiser_id", sa.String(length=40), nullable=False),
        sa.Column("billing_event", sa.String(length=3), nullable=False),
        sa.Column("charge_micros", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_events")),
        sa.UniqueConstraint(
            "impression_id", "event_type", name=op.f("uq_ad_events_impression_id_event_type")
        ),
    )
    with op.batch_alter_table("ad_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ad_events_advertiser_id_occurred_at", ["advertiser_id", "occurred_at"], unique=False
        )

    op.create_table(
        "auction_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column(
            "user",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "candidates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auction_logs")),
    )
    with op.batch_alter_table("auction_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auction_logs_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "delivery_hourly",
        sa.Column("ad_id", sa.String(length=40), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("ad_group_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("advertiser_id", sa.String(length=40), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("spend_micros", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ad_id", "hour", name=op.f("pk_delivery_hourly")),
    )
    with op.batch_alter_table("delivery_hourly", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_hourly_advertiser_id_hour", ["advertiser_id", "hour"], unique=False
        )

    op.create_table(
        "served_ads",
        sa.Column("impression_id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("served_at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("ad_id", sa.String(length=40), nullable=False),
        sa.Column("ad_group_id", sa.String(length=40), nullable=False),
        sa.Column("advertiser_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("billing_event", sa.String(length=3), nullable=False),
        sa.Column("price_micros", sa.BigInteger(), nullable=False),
        sa.Column("pctr", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column(
            "features",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("impression_id", name=op.f("pk_served_ads")),
    )
    with op.batch_alter_table("served_ads", schema=None) as batch_op:
        batch_op.create_index("ix_served_ads_served_at", ["served_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("served_ads", schema=None) as batch_op:
        batch_op.drop_index("ix_served_ads_served_at")

    op.drop_table("served_ads")
    with op.batch_alter_table("delivery_hourly", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_hourly_advertiser_id_hour")

    op.drop_table("delivery_hourly")
    with op.batch_alter_table("auction_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auction_logs_request_id"))

    op.drop_table("auction_logs")
    with op.batch_alter_table("ad_events", schema=None) as batch_op:
        batch_op.drop_index("ix_ad_events_advertiser_id_occurred_at")

    op.drop_table("ad_events")
