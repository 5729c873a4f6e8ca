"""Every exception hotich defines is a HotichError (issue 17): the CLI prints its one line and
exit code, the review app its page, and nothing of ours reaches a user as a bare traceback."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import pipeline
from pipeline.errors import BadInput, Forbidden, HotichError, InvalidValue, LoginRequired, NotAllowed


def _our_exceptions():
    for info in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) \
                    and obj.__module__ == module.__name__:
                yield obj


def test_every_exception_of_the_package_is_in_the_tree():
    found = list(_our_exceptions())
    assert len(found) >= 15  # the walk did find them
    assert [e.__qualname__ for e in found if not issubclass(e, HotichError)] == []


def test_the_review_apps_refusals_and_the_stores_checks_joined_it():
    assert issubclass(LoginRequired, NotAllowed) and issubclass(Forbidden, NotAllowed)
    assert NotAllowed.exit_code == 6
    from pipeline.encodings import UnknownEncoding

    assert issubclass(UnknownEncoding, BadInput) and issubclass(UnknownEncoding, ValueError)
    assert issubclass(InvalidValue, BadInput) and issubclass(InvalidValue, ValueError)


def test_a_field_version_that_cannot_be_stored_says_so_in_vietnamese(engine):
    from pipeline.storage.db import session_scope
    from pipeline.storage.versions import add_field_version

    with session_scope(engine) as session:  # refused before anything is written
        with pytest.raises(InvalidValue, match="Độ tin cậy 1.5 nằm ngoài"):
            add_field_version(session, 1, "full_name", raw="x", value="x", status="read",
                              confidence=1.5, source="ocr")
