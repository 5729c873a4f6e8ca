"""Who may do what: the three roles, their rank and their Vietnamese names.

On the ground floor because every room asks (the review app for each page, the exports for
who may send, the CLI for bulk approval); accounts, passwords and sessions stay with the
review app (``pipeline.review.auth``), and the user rows with storage.
"""

from __future__ import annotations

from pipeline.errors import NotAllowed

ROLES = ("reviewer", "supervisor", "admin")
#: Each role may do what the roles before it may: a supervisor also reviews, an admin also
#: approves. Checked on the server for every page and action.
RANK = {role: i for i, role in enumerate(ROLES)}
ROLE_LABELS = {"reviewer": "người duyệt", "supervisor": "giám sát", "admin": "quản trị"}


def has_role(actual: str, needed: str) -> bool:
    """``has_role("admin", "supervisor")`` is True: roles are ranked."""
    return RANK.get(actual, -1) >= RANK[needed]


def require_role(role: str, needed: str, what: str) -> None:
    """Raise NotAllowed unless ``role`` reaches ``needed``; ``what`` names the action."""
    if not has_role(role, needed):
        raise NotAllowed(f"Vai trò {ROLE_LABELS.get(role, role)} không được {what}",
                         hint=f"cần vai trò {ROLE_LABELS[needed]}")
