"""course administration: staff roles, join codes, roster fields, late policy, extensions,
shape rule

Adds what issue 11 stores: a course's join code (existing courses keep their code as join
code, as before) and archive time; per enrolment the roster's student id and section; per
assignment the cut-off of the penalty policy, the shape rule and the counted-submission rule;
personal deadlines (extensions); per submission the scores under the "values" shape rule and
per tensor whether its values were right after a reshape. The late policy "none" is renamed
"refuse".

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('join_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint('uq_courses_join_code', ['join_code'])
    op.execute("UPDATE courses SET join_code = code")
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('student_number', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('section', sa.String(length=64), nullable=True))
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cutoff_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('shape_rule', sa.String(length=20),
                                      server_default='strict', nullable=False))
        batch_op.add_column(sa.Column('counted', sa.String(length=10), server_default='best',
                                      nullable=False))
    op.execute("UPDATE assignments SET late_policy = 'refuse' WHERE late_policy = 'none'")
    op.create_table(
        'extensions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('deadline', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assignment_id', 'user_id'),
    )
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extensions_assignment_id'), ['assignment_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_extensions_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('values_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('values_carry_forward_score', sa.Float(), nullable=True))
        # The gradebook reads every graded submission of a course's assignments: a covering
        # index answers it without touching the wide rows (code, result JSON).
        batch_op.create_index('ix_submissions_gradebook', [
            'assignment_id', 'status', 'user_id', 'created_at', 'id', 'max_score', 'score',
            'carry_forward_score', 'values_score', 'values_carry_forward_score'], unique=False)
    with op.batch_alter_table('tensor_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('values_match', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('tensor_results', schema=None) as batch_op:
        batch_op.drop_column('values_match')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_gradebook')
        batch_op.drop_column('values_carry_forward_score')
        batch_op.drop_column('values_score')
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extensions_user_id'))
        batch_op.drop_index(batch_op.f('ix_extensions_assignment_id'))
    op.drop_table('extensions')
    op.execute("UPDATE assignments SET late_policy = 'none' WHERE late_policy = 'refuse'")
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_column('counted')
        batch_op.drop_column('shape_rule')
        batch_op.drop_column('max_score')
        batch_op.drop_column('cutoff_days')
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_column('section')
        batch_op.drop_column('student_number')
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint('uq_courses_join_code', type_='unique')
        batch_op.drop_column('archived_at')
        batch_op.drop_column('join_code')
