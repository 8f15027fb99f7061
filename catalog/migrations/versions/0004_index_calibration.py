"""index_collections.calibration: how high unrelated text reaches in a collection ("no good match")

Records identified above species need no new column: a media row's taxon may be of any rank.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('index_collections') as batch:
        batch.add_column(sa.Column('calibration', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('index_collections') as batch:
        batch.drop_column('calibration')
