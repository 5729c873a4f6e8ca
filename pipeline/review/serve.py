"""Running the review app under uvicorn, with a server log that holds no personal data.

uvicorn's own access log is turned off: the app logs method, path, status and duration (ids
only), and no client address or query string.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from pipeline.review.config import get_review_settings
from pipeline.settings import Settings

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "plain",
                         "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["out"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["out"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "hotich.review": {"handlers": ["out"], "level": "INFO", "propagate": False},
    },
}


def serve(engine: Engine, settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    from pipeline.clean.lexicon import install_name_lexicon
    from pipeline.match.population import load_name_lexicon
    from pipeline.review.app import create_app

    review = get_review_settings()
    if host:
        review.host = host
    if port:
        review.port = port
    app = create_app(engine, settings, review)
    # The reviewers' suggestions (a misread name mended by the lexicon) use the names learned
    # from the population, as the clean stage does; a later import is seen after a restart.
    install_name_lexicon(load_name_lexicon(engine))
    logging.getLogger("hotich.review").setLevel(logging.INFO)
    uvicorn.run(app, host=review.host, port=review.port, access_log=False, log_config=LOG_CONFIG,
                server_header=False, proxy_headers=False)
