import pytest

from pipeline.settings import Settings
from pipeline.storage.db import init_db, make_engine


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "ws")


@pytest.fixture
def db(settings):
    engine = make_engine(settings.database_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    init_db(engine)
    yield engine
    engine.dispose()
