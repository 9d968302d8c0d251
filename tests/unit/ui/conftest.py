"""The AIOps page's fixture store (support.page_store), built once per run; tests only read it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiops.store import Store
from support.page_store import World, fill


@pytest.fixture(scope="session")
def world() -> World:
    return World()


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The store, built once per run; tests only read it."""
    path: Path = tmp_path_factory.mktemp("ui") / "aiops.db"
    url = f"sqlite:///{path}"
    with Store.open(url) as store:
        fill(store)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url, create=False) as opened:
        yield opened
