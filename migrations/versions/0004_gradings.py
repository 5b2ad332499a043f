"""gradings, batches and regrades

A submission is what the student sent; a grading is one run of one exercise version over it.
Every existing submission's run moves to a grading with the same id (reason "submitted"),
which becomes its current grading; tensor results move from the submission to that grading.
The submission keeps a mirror of its current grading's status and scores (the gradebook's
covering index). Adds staff batch uploads (batches, batch_files) and regrades.

Downgrade keeps each submission's current grading (its run columns and tensor results) and
drops the others, the batches and the regrades.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

#: The run columns that move from submissions to gradings.
RUN_COLUMNS = [
    ('started_at', sa.DateTime()),
    ('finished_at', sa.DateTime()),
    ('attempts', sa.Integer()),
    ('requeues', sa.Integer()),
    ('worker', sa.String(length=200)),
    ('exercise_version', sa.Integer()),
    ('runtime_ms', sa.Float()),
    ('message', sa.Text()),
    ('stdout', sa.Text()),
    ('result', sa.JSON()),
]
#: Copied to the grading and kept on the submission (the mirror).
MIRROR_COLUMNS = ['status', 'result_status', 'score', 'carry_forward_score', 'values_score',
                  'values_carry_forward_score', 'max_score']


def upgrade():
    op.create_table(
        'regrades',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('scope', sa.String(length=300), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'],
                                name=op.f('fk_regrades_assignment_id_assignments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'],
                                name=op.f('fk_regrades_created_by_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_regrades')),
    )
    op.create_index(op.f('ix_regrades_assignment_id'), 'regrades', ['assignment_id'])
    op.create_table(
        'batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('layout', sa.String(length=20), nullable=False),
        sa.Column('notes', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'],
                                name=op.f('fk_batches_assignment_id_assignments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'],
                                name=op.f('fk_batches_created_by_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_batches')),
    )
    op.create_index(op.f('ix_batches_assignment_id'), 'batches', ['assignment_id'])
    op.create_table(
        'gradings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=20), server_default='submitted', nullable=False),
        sa.Column('regrade_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('requeues', sa.Integer(), nullable=False),
        sa.Column('worker', sa.String(length=200), nullable=True),
        sa.Column('exercise_version', sa.Integer(), nullable=True),
        sa.Column('result_status', sa.String(length=20), nullable=True),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('carry_forward_score', sa.Float(), nullable=True),
        sa.Column('values_score', sa.Float(), nullable=True),
        sa.Column('values_carry_forward_score', sa.Float(), nullable=True),
        sa.Column('max_score', sa.Float(), nullable=True),
        sa.Column('runtime_ms', sa.Float(), nullable=True),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('stdout', sa.Text(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'],
                                name=op.f('fk_gradings_submission_id_submissions'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['regrade_id'], ['regrades.id'],
                                name=op.f('fk_gradings_regrade_id_regrades'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gradings')),
    )
    op.create_index(op.f('ix_gradings_submission_id'), 'gradings', ['submission_id'])
    op.create_index(op.f('ix_gradings_regrade_id'), 'gradings', ['regrade_id'])
    op.create_index('ix_gradings_status_updated_at', 'gradings', ['status', 'updated_at'])

    # Every submission's run becomes its first grading, with the same id.
    moved = ['started_at', 'finished_at', 'attempts', 'requeues', 'worker', 'exercise_version',
             'runtime_ms', 'message', 'stdout', 'result', *MIRROR_COLUMNS,
             'created_at', 'updated_at']
    cols = ', '.join(moved)
    op.execute(f"INSERT INTO gradings (id, submission_id, reason, {cols}) "
               f"SELECT id, id, 'submitted', {cols} FROM submissions")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("SELECT setval(pg_get_serial_sequence('gradings', 'id'), "
                   "COALESCE((SELECT max(id) FROM gradings), 0) + 1, false)")

    op.create_table(
        'batch_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('code', sa.Text(), nullable=True),
        sa.Column('candidates', sa.JSON(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('submission_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['batch_id'], ['batches.id'],
                                name=op.f('fk_batch_files_batch_id_batches'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'],
                                name=op.f('fk_batch_files_submission_id_submissions'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_batch_files_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_batch_files')),
    )
    op.create_index(op.f('ix_batch_files_batch_id'), 'batch_files', ['batch_id'])

    with op.batch_alter_table('tensor_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grading_id', sa.Integer(), nullable=True))
    op.execute("UPDATE tensor_results SET grading_id = submission_id")
    with op.batch_alter_table('tensor_results', schema=None) as batch_op:
        batch_op.alter_column('grading_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint('uq_tensor_results_submission_id', type_='unique')
        batch_op.drop_constraint('fk_tensor_results_submission_id_submissions',
                                 type_='foreignkey')
        batch_op.drop_index('ix_tensor_results_submission_id')
        batch_op.drop_column('submission_id')
        batch_op.create_foreign_key(batch_op.f('fk_tensor_results_grading_id_gradings'),
                                    'gradings', ['grading_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_tensor_results_grading_id'), ['grading_id'])
        batch_op.create_unique_constraint(batch_op.f('uq_tensor_results_grading_id'),
                                          ['grading_id', 'name'])

    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('current_grading_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('batch_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source_name', sa.String(length=255), nullable=True))
    op.execute("UPDATE submissions SET current_grading_id = id")
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        for name, _ in RUN_COLUMNS:
            batch_op.drop_column(name)
        batch_op.create_foreign_key(batch_op.f('fk_submissions_current_grading_id_gradings'),
                                    'gradings', ['current_grading_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_submissions_batch_id_batches'), 'batches',
                                    ['batch_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_submissions_batch_id'), ['batch_id'])
        batch_op.create_index('ix_submissions_dedupe',
                              ['assignment_id', 'user_id', 'code_sha256'])


def downgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        for name, type_ in RUN_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    for name, _ in RUN_COLUMNS:
        op.execute(f"UPDATE submissions SET {name} = (SELECT g.{name} FROM gradings g "
                   "WHERE g.id = submissions.current_grading_id)")
    op.execute("UPDATE submissions SET attempts = 0 WHERE attempts IS NULL")
    op.execute("UPDATE submissions SET requeues = 0 WHERE requeues IS NULL")

    with op.batch_alter_table('tensor_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submission_id', sa.Integer(), nullable=True))
    op.execute("DELETE FROM tensor_results WHERE grading_id NOT IN (SELECT current_grading_id "
               "FROM submissions WHERE current_grading_id IS NOT NULL)")
    op.execute("UPDATE tensor_results SET submission_id = (SELECT g.submission_id "
               "FROM gradings g WHERE g.id = tensor_results.grading_id)")
    with op.batch_alter_table('tensor_results', schema=None) as batch_op:
        batch_op.drop_constraint('uq_tensor_results_grading_id', type_='unique')
        batch_op.drop_index('ix_tensor_results_grading_id')
        batch_op.drop_constraint('fk_tensor_results_grading_id_gradings', type_='foreignkey')
        batch_op.drop_column('grading_id')
        batch_op.alter_column('submission_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_tensor_results_submission_id_submissions',
                                    'submissions', ['submission_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_index('ix_tensor_results_submission_id', ['submission_id'])
        batch_op.create_unique_constraint('uq_tensor_results_submission_id',
                                          ['submission_id', 'name'])

    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_dedupe')
        batch_op.drop_index('ix_submissions_batch_id')
        batch_op.drop_constraint('fk_submissions_batch_id_batches', type_='foreignkey')
        batch_op.drop_constraint('fk_submissions_current_grading_id_gradings',
                                 type_='foreignkey')
        batch_op.drop_column('source_name')
        batch_op.drop_column('batch_id')
        batch_op.drop_column('current_grading_id')
        batch_op.alter_column('attempts', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('requeues', existing_type=sa.Integer(), nullable=False)

    op.drop_index('ix_batch_files_batch_id', table_name='batch_files')
    op.drop_table('batch_files')
    op.drop_index('ix_gradings_status_updated_at', table_name='gradings')
    op.drop_index('ix_gradings_regrade_id', table_name='gradings')
    op.drop_index('ix_gradings_submission_id', table_name='gradings')
    op.drop_table('gradings')
    op.drop_index('ix_batches_assignment_id', table_name='batches')
    op.drop_table('batches')
    op.drop_index('ix_regrades_assignment_id', table_name='regrades')
    op.drop_table('regrades')
