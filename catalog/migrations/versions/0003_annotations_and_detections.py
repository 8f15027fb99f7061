"""annotations (a yes/no on a label for one window of a media item) and detections (scored windows)

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'annotations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('media_id', sa.Integer(), nullable=False),
        sa.Column('offset_s', sa.Float(), nullable=False),
        sa.Column('duration_s', sa.Float(), nullable=True),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('positive', sa.Boolean(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['media_id'], ['media.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_annotations_media_id', 'annotations', ['media_id'])
    op.create_index('ix_annotations_label_media', 'annotations', ['label', 'media_id'])
    op.create_table(
        'detections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('media_id', sa.Integer(), nullable=False),
        sa.Column('offset_s', sa.Float(), nullable=False),
        sa.Column('duration_s', sa.Float(), nullable=True),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['media_id'], ['media.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('media_id', 'offset_s', 'label', 'source', name='uq_detection_window'),
    )
    op.create_index('ix_detections_media_id', 'detections', ['media_id'])
    op.create_index('ix_detections_label_score', 'detections', ['label', 'score'])


def downgrade() -> None:
    op.drop_table('detections')
    op.drop_table('annotations')
