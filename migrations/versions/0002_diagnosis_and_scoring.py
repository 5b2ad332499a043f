"""diagnosis per tensor and error-carried-forward scoring

Adds what issue 6 stores: per assignment the scoring that counts (strict by default), per
submission the carry-forward score beside the strict one, and per tensor result its local
correctness, fingerprint code (indexed: analytics count by class), line and carry-forward
points. Existing rows keep strict scoring; their new columns stay empty (NULL) because they
were graded without diagnosis.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scoring', sa.String(length=20), server_default='strict',
                                      nullable=False))
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('carry_forward_score', sa.Float(), nullable=True))
    with op.batch_alter_table('tensor_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locally_correct', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('line', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('carry_forward_points', sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tensor_results_fingerprint'), ['fingerprint'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('tensor_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tensor_results_fingerprint'))
        batch_op.drop_column('carry_forward_points')
        batch_op.drop_column('line')
        batch_op.drop_column('fingerprint')
        batch_op.drop_column('locally_correct')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('carry_forward_score')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_column('scoring')
