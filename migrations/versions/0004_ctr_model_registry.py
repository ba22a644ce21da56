"""CTR model registry

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:21:32.095942
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ctr_models",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "candidate",
                "active",
                "retired",
                name="ctr_model_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("feature_spec_hash", sa.String(length=64), nullable=False),
        sa.Column("num_trees", sa.Integer(), nullable=False),
        sa.Column("trained_from", sa.DateTime(), nullable=True),
        sa.Column("trained_to", sa.DateTime(), nullable=True),
        sa.Column("training_rows", sa.BigInteger(), nullable=False),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("artifact", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("activated_at", sa.DateTime(), nullable=True),
        sa.Column("activated_by", sa.String(length=64), nullable=True),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ctr_models")),
        sa.UniqueConstraint("version", name=op.f("uq_ctr_models_version")),
    )
    with op.batch_alter_table("ctr_models", schema=None) as batch_op:
        batch_op.create_index(
            "uq_ctr_models_one_active",
            ["status"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("ctr_models", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ctr_models_one_active",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.drop_table("ctr_models")
