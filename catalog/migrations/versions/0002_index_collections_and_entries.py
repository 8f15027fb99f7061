"""index collections and per-media index entries

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'index_collections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('alias', sa.String(length=200), nullable=False),
        sa.Column('model_ref', sa.Text(), nullable=False),
        sa.Column('model_key', sa.String(length=100), nullable=False),
        sa.Column('preset', sa.String(length=32), nullable=False),
        sa.Column('dim', sa.Integer(), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_index('ix_index_collections_alias', 'index_collections', ['alias'])
    op.create_table(
        'index_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('media_id', sa.Integer(), nullable=False),
        sa.Column('collection', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['media_id'], ['media.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('media_id', 'collection', name='uq_index_entry'),
    )
    op.create_index('ix_index_entries_media_id', 'index_entries', ['media_id'])
    op.create_index('ix_index_entries_collection', 'index_entries', ['collection'])


def downgrade() -> None:
    op.drop_table('index_entries')
    op.drop_table('index_collections')
