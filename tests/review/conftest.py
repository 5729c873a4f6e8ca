"""Review test fixtures: users of each role (helpers in review_helpers.py; the CLI ones are shared)."""

from __future__ import annotations

import pytest

from review_helpers import ROLES, make_users


@pytest.fixture
def users(session):
    make_users(session)
    session.commit()
    return ROLES
