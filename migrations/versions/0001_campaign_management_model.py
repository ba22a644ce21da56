"""campaign management model

Revision ID: 0001
Revises:
Create Date: 2026-11-27 22:34:56.457537
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "advertisers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ACTIVE",
                "SUSPENDED",
                "ARCHIVED",
                name="advertiser_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advertisers")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "advertiser",
                "finance",
                "feed",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("advertiser_id", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "(role = 'advertiser') = (advertiser_id IS NOT NULL)",
            name=op.f("ck_api_keys_advertiser_role_bound"),
        ),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["advertisers.id"],
            name=op.f("fk_api_keys_advertiser_id_advertisers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_advertiser_id"), ["advertiser_id"], unique=False
        )

    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("advertiser_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "objective",
            sa.Enum(
                "TRAFFIC",
                "VIDEO_VIEWS",
                "REACH",
                name="objective",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "budget_mode",
            sa.Enum(
                "DAILY", "LIFETIME", name="budget_mode", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("budget_micros", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=False),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "ACTIVE",
                "PAUSED",
                "ARCHIVED",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("budget_micros > 0", name=op.f("ck_campaigns_budget_positive")),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["advertisers.id"],
            name=op.f("fk_campaigns_advertiser_id_advertisers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaigns_advertiser_id_id", ["advertiser_id", "id"], unique=False
        )

    op.create_table(
        "ad_groups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("advertiser_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "billing_event",
            sa.Enum("CPM", "CPC", name="billing_event", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("bid_micros", sa.BigInteger(), nullable=False),
        sa.Column(
            "budget_mode",
            sa.Enum(
                "DAILY", "LIFETIME", name="budget_mode", native_enum=False, create_constraint=True
            ),
            nullable=True,
        ),
        sa.Column("budget_micros", sa.BigInteger(), nullable=True),
        sa.Column(
            "pacing",
            sa.Enum(
                "STANDARD", "ACCELERATED", name="pacing", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("frequency_cap_impressions", sa.Integer(), nullable=True),
        sa.Column("frequency_cap_hours", sa.Integer(), nullable=True),
        sa.Column(
            "dayparting",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "targeting",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "ACTIVE",
                "PAUSED",
                "ARCHIVED",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(budget_mode IS NULL) = (budget_micros IS NULL)",
            name=op.f("ck_ad_groups_budget_mode_with_amount"),
        ),
        sa.CheckConstraint(
            "(frequency_cap_impressions IS NULL) = (frequency_cap_hours IS NULL)",
            name=op.f("ck_ad_groups_frequency_cap_complete"),
        ),
        sa.CheckConstraint("bid_micros > 0", name=op.f("ck_ad_groups_bid_positive")),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["advertisers.id"],
            name=op.f("fk_ad_groups_advertiser_id_advertisers"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_ad_groups_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_groups")),
    )
    with op.batch_alter_table("ad_groups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ad_groups_advertiser_id_id", ["advertiser_id", "id"], unique=False
        )
        batch_op.create_index("ix_ad_groups_campaign_id_id", ["campaign_id", "id"], unique=False)

    op.create_table(
        "ads",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("advertiser_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("ad_group_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("video_url", sa.String(length=2048), nullable=True),
        sa.Column("video_id", sa.String(length=128), nullable=True),
        sa.Column("caption", sa.String(length=2200), nullable=False),
        sa.Column(
            "call_to_action",
            sa.Enum(
                "LEARN_MORE",
                "SHOP_NOW",
                "SIGN_UP",
                "DOWNLOAD",
                "WATCH_MORE",
                "CONTACT_US",
                "BOOK_NOW",
                name="call_to_action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("landing_url", sa.String(length=2048), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column(
            "review_status",
            sa.Enum(
                "PENDING",
                "APPROVED",
                "REJECTED",
                name="review_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=40), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "ACTIVE",
                "PAUSED",
                "ARCHIVED",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(video_url IS NULL) <> (video_id IS NULL)", name=op.f("ck_ads_one_video_source")
        ),
        sa.ForeignKeyConstraint(
            ["ad_group_id"], ["ad_groups.id"], name=op.f("fk_ads_ad_group_id_ad_groups")
        ),
        sa.ForeignKeyConstraint(
            ["advertiser_id"], ["advertisers.id"], name=op.f("fk_ads_advertiser_id_advertisers")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_ads_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ads")),
    )
    with op.batch_alter_table("ads", schema=None) as batch_op:
        batch_op.create_index("ix_ads_ad_group_id_id", ["ad_group_id", "id"], unique=False)
        batch_op.create_index("ix_ads_advertiser_id_id", ["advertiser_id", "id"], unique=False)
        batch_op.create_index("ix_ads_review_status_id", ["review_status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ads", schema=None) as batch_op:
        batch_op.drop_index("ix_ads_review_status_id")
        batch_op.drop_index("ix_ads_advertiser_id_id")
        batch_op.drop_index("ix_ads_ad_group_id_id")

    op.drop_table("ads")
    with op.batch_alter_table("ad_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_ad_groups_campaign_id_id")
        batch_op.drop_index("ix_ad_groups_advertiser_id_id")

    op.drop_table("ad_groups")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_advertiser_id_id")

    op.drop_table("campaigns")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_advertiser_id"))

    op.drop_table("api_keys")
    op.drop_table("advertisers")
