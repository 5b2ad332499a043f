"""submissions.gradable

A submission that does not compile (or is refused before any of its code could run) is
stored already graded with its error and ``gradable`` false: it costs the student no attempt
(``max_submissions``, ``min_interval``) and never counts in the gradebook (PrairieLearn's
"gradable: false"). Every existing submission was counted when it was made, so all start
true. The gradebook's covering index gains the column, so it still answers the gradebook
without reading the wide rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 17:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

#: The gradebook's covering index before this revision; ``gradable`` is appended to it.
GRADEBOOK = ['assignment_id', 'status', 'user_id', 'created_at', 'id', 'max_score', 'score',
             'carry_forward_score', 'values_score', 'values_carry_forward_score']


def upgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gradable', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
        batch_op.drop_index('ix_submissions_gradebook')
        batch_op.create_index('ix_submissions_gradebook', GRADEBOOK + ['gradable'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_gradebook')
        batch_op.create_index('ix_submissions_gradebook', GRADEBOOK, unique=False)
        batch_op.drop_column('gradable')
