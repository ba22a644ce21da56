"""The creator fund: creators, daily engagement per video, versioned programme rules, payout
runs and their lines, clawbacks

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 07:08:49.142607
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "creators",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("verified_age", sa.Integer(), nullable=True),
        sa.Column("followers", sa.BigInteger(), nullable=False),
        sa.Column(
            "standing",
            sa.Enum(
                "GOOD",
                "WARNED",
                "SUSPENDED",
                "BANNED",
                name="creator_standing",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("stripe_account_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creators")),
    )
    op.create_table(
        "fund_rules",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_fund_rules")),
    )
    op.create_table(
        "payout_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column(
            "period_kind",
            sa.Enum("DAY", "MONTH", name="period_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "DRAFT",
                "APPROVED",
                "PARTIALLY_PAID",
                "PAID",
                name="payout_run_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("revenue_micros", sa.BigInteger(), nullable=False),
        sa.Column("pool_micros", sa.BigInteger(), nullable=False),
        sa.Column("distributed_micros", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.String(length=80), nullable=False),
        sa.Column("cap_micros", sa.BigInteger(), nullable=True),
        sa.Column(
            "totals",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("approvals_seen", sa.Integer(), nullable=False),
        sa.Column("corrections_after", sa.DateTime(), nullable=False),
        sa.Column("computed_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rules_version"],
            ["fund_rules.version"],
            name=op.f("fk_payout_runs_rules_version_fund_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_runs")),
        sa.UniqueConstraint(
            "period_kind", "period_start", name=op.f("uq_payout_runs_period_kind_period_start")
        ),
    )
    op.create_table(
        "video_engagement",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("video_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("qualified_views", sa.BigInteger(), nullable=False),
        sa.Column("invalid_views", sa.BigInteger(), nullable=False),
        sa.Column("invalid_traffic", sa.Boolean(), nullable=False),
        sa.Column("counted_views", sa.BigInteger(), nullable=False),
        sa.Column("watch_time_seconds", sa.BigInteger(), nullable=False),
        sa.Column("likes", sa.BigInteger(), nullable=False),
        sa.Column("comments", sa.BigInteger(), nullable=False),
        sa.Column("shares", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creators.id"], name=op.f("fk_video_engagement_creator_id_creators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_engagement")),
        sa.UniqueConstraint("video_id", "day", name=op.f("uq_video_engagement_video_id_day")),
    )
    with op.batch_alter_table("video_engagement", schema=None) as batch_op:
        batch_op.create_index(
            "ix_video_engagement_creator_id_day", ["creator_id", "day"], unique=False
        )
        batch_op.create_index(
            "ix_video_engagement_day_creator_id", ["day", "creator_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_video_engagement_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "fund_clawbacks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_run_id", sa.String(length=40), nullable=False),
        sa.Column("applied_run_id", sa.String(length=40), nullable=False),
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("weight_paid", sa.BigInteger(), nullable=False),
        sa.Column("weight_now", sa.BigInteger(), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["applied_run_id"],
            ["payout_runs.id"],
            name=op.f("fk_fund_clawbacks_applied_run_id_payout_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creators.id"], name=op.f("fk_fund_clawbacks_creator_id_creators")
        ),
        sa.ForeignKeyConstraint(
            ["source_run_id"],
            ["payout_runs.id"],
            name=op.f("fk_fund_clawbacks_source_run_id_payout_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_clawbacks")),
        sa.UniqueConstraint(
            "source_run_id",
            "creator_id",
            "applied_run_id",
            name=op.f("uq_fund_clawbacks_source_run_id_creator_id_applied_run_id"),
        ),
    )
    with op.batch_alter_table("fund_clawbacks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fund_clawbacks_applied_run_id"), ["applied_run_id"], unique=False
        )

    op.create_table(
        "payout_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "EXCLUDED",
                "CARRIED",
                "PAYABLE",
                "PAID",
                "FAILED",
                name="payout_line_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "exclusions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("qualified_views", sa.BigInteger(), nullable=False),
        sa.Column("interactions", sa.BigInteger(), nullable=False),
        sa.Column("trailing_qualified_views", sa.BigInteger(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("weight", sa.BigInteger(), nullable=False),
        sa.Column("exact_share", sa.String(length=80), nullable=False),
        sa.Column("capped", sa.Boolean(), nullable=False),
        sa.Column("share_micros", sa.BigInteger(), nullable=False),
        sa.Column("carried_in_micros", sa.BigInteger(), nullable=False),
        sa.Column("clawback_micros", sa.BigInteger(), nullable=False),
        sa.Column("payable_micros", sa.BigInteger(), nullable=False),
        sa.Column("carried_out_micros", sa.BigInteger(), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("carried_to_run_id", sa.String(length=40), nullable=True),
        sa.Column("stripe_account_id", sa.String(length=255), nullable=True),
        sa.Column("transfer_key", sa.String(length=200), nullable=True),
        sa.Column("stripe_transfer_id", sa.String(length=255), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["carried_to_run_id"],
            ["payout_runs.id"],
            name=op.f("fk_payout_lines_carried_to_run_id_payout_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creators.id"], name=op.f("fk_payout_lines_creator_id_creators")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["payout_runs.id"], name=op.f("fk_payout_lines_run_id_payout_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_lines")),
        sa.UniqueConstraint("run_id", "creator_id", name=op.f("uq_payout_lines_run_id_creator_id")),
    )
    with op.batch_alter_table("payout_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payout_lines_creator_id_status", ["creator_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payout_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_lines_creator_id_status")

    op.drop_table("payout_lines")
    with op.batch_alter_table("fund_clawbacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fund_clawbacks_applied_run_id"))

    op.drop_table("fund_clawbacks")
    with op.batch_alter_table("video_engagement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_engagement_updated_at"))
        batch_op.drop_index("ix_video_engagement_day_creator_id")
        batch_op.drop_index("ix_video_engagement_creator_id_day")

    op.drop_table("video_engagement")
    op.drop_table("payout_runs")
    op.drop_table("fund_rules")
    op.drop_table("creators")
