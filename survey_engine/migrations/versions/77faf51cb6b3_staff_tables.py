"""staff tables

Revision ID: 77faf51cb6b3
Revises: 85fcd6bbbbe9
Create Date: 2026-11-25 15:51:36.045945
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import survey_engine.models.base


revision: str = '77faf51cb6b3'
down_revision: Union[str, None] = '85fcd6bbbbe9'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('staff_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', survey_engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', survey_engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', survey_engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('researcher', 'marketer', 'admin')", name='ck_staff_user_role'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_user_email'), ['email'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_user_email'))

    op.drop_table('staff_user')
