"""A reader opens only a store that exists: `Store.open(url, create=False)` refuses a
missing SQLite file or a database without the aiops schema, naming the URL, and creates
nothing; the same URL opens once a writer has created the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from aiops.store import Store, StoreError, mask_url


def test_a_reader_refuses_a_store_that_was_never_created(store_url: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(store_url, create=False)
    assert mask_url(store_url) in str(caught.value) and "check the URL" in str(caught.value)
    database = make_url(store_url).database
    if store_url.startswith("sqlite"):
        assert not Path(database).exists() and not Path(database).parent.exists()


def test_a_reader_opens_the_store_a_writer_created(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.upsert("predictions", [])  # nothing to write: the writer only created it
    with Store.open(store_url, create=False) as store:
        assert store.read("predictions") == []


def test_an_empty_sqlite_file_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(StoreError, match=f"store sqlite:///{path}: no aiops results store"):
        Store.open(f"sqlite:///{path}", create=False)
