"""initial catalog schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 01:30:35.477052
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingest_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('taxa',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('common_name', sa.String(length=200), nullable=True),
    sa.Column('class_name', sa.String(length=200), nullable=True),
    sa.Column('order_name', sa.String(length=200), nullable=True),
    sa.Column('family_name', sa.String(length=200), nullable=True),
    sa.Column('genus_name', sa.String(length=200), nullable=True),
    sa.Column('source_ids', sa.JSON(), nullable=False),
    sa.Column('split_role', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['taxa.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('rank', 'name', name='uq_taxa_rank_name')
    )
    with op.batch_alter_table('taxa', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_taxa_class_name'), ['class_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxa_common_name'), ['common_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxa_family_name'), ['family_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxa_genus_name'), ['genus_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxa_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxa_order_name'), ['order_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxa_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxa_rank'), ['rank'], unique=False)
        batch_op.create_index(batch_op.f('ix_taxa_split_role'), ['split_role'], unique=False)

    op.create_table('failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('item', sa.Text(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('resolved', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['ingest_runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'item', name='uq_failure_item')
    )
    with op.batch_alter_table('failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_failures_resolved'), ['resolved'], unique=False)
        batch_op.create_index(batch_op.f('ix_failures_source'), ['source'], unique=False)

    op.create_table('media',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('taxon_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('license', sa.String(length=64), nullable=True),
    sa.Column('rights_holder', sa.String(length=300), nullable=True),
    sa.Column('attribution', sa.Text(), nullable=True),
    sa.Column('observed_on', sa.Date(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('sample_rate', sa.Integer(), nullable=True),
    sa.Column('channels', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=True),
    sa.Column('split', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['taxon_id'], ['taxa.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256'),
    sa.UniqueConstraint('source', 'source_id', name='uq_media_source_item')
    )
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.create_index('ix_media_kind_split', ['kind', 'split'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_license'), ['license'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_source'), ['source'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_split'), ['split'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_taxon_id'), ['taxon_id'], unique=False)

    op.create_table('trait_values',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('taxon_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['taxon_id'], ['taxa.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('taxon_id', 'category', 'label', 'source', name='uq_trait_fact')
    )
    with op.batch_alter_table('trait_values', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trait_values_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_trait_values_taxon_id'), ['taxon_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('trait_values', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trait_values_taxon_id'))
        batch_op.drop_index(batch_op.f('ix_trait_values_category'))

    op.drop_table('trait_values')
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_taxon_id'))
        batch_op.drop_index(batch_op.f('ix_media_status'))
        batch_op.drop_index(batch_op.f('ix_media_split'))
        batch_op.drop_index(batch_op.f('ix_media_source'))
        batch_op.drop_index(batch_op.f('ix_media_license'))
        batch_op.drop_index('ix_media_kind_split')

    op.drop_table('media')
    with op.batch_alter_table('failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_failures_source'))
        batch_op.drop_index(batch_op.f('ix_failures_resolved'))

    op.drop_table('failures')
    with op.batch_alter_table('taxa', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taxa_split_role'))
        batch_op.drop_index(batch_op.f('ix_taxa_rank'))
        batch_op.drop_index(batch_op.f('ix_taxa_parent_id'))
        batch_op.drop_index(batch_op.f('ix_taxa_order_name'))
        batch_op.drop_index(batch_op.f('ix_taxa_name'))
        batch_op.drop_index(batch_op.f('ix_taxa_genus_name'))
        batch_op.drop_index(batch_op.f('ix_taxa_family_name'))
        batch_op.drop_index(batch_op.f('ix_taxa_common_name'))
        batch_op.drop_index(batch_op.f('ix_taxa_class_name'))

    op.drop_table('taxa')
    op.drop_table('ingest_runs')
