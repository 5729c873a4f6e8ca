"""The review app: reviewers correct OCR output and decide citizen links in a browser.

    app.py      FastAPI app factory (routes only; no data rules)
    auth.py     passwords (argon2), roles, sessions, CSRF, lockout
    queue.py    which records need a person, in what order, with counts
    actions.py  correct / accept / illegible / confirm / postpone / approve / restore
    links.py    candidate citizens beside a record, each comparison in words
    crops.py    page images and field crops rendered from the stored scan, cached on disk
    progress.py supervisor figures: books, reviewers
    sample.py   a small seeded book for tests and the review benchmark

Everything except app.py is plain functions over a Session, testable without HTTP.
"""
