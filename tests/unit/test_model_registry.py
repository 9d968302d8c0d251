"""Model versions: named by their data window, written atomically, pruned, picked as of a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.model_registry import META, ModelMeta, ModelRegistry, RegistryError, version_for

NIGHT = datetime(2026, 10, 31, tzinfo=UTC)


def _meta(end: datetime, good: bool = True, name: str = "baseline/shard-0") -> ModelMeta:
    return ModelMeta(
        name=name,
        version=version_for(end),
        kind="seasonal-baseline",
        data_start=(end - timedelta(days=14)).isoformat(),
        data_end=end.isoformat(),
        trained_at=end.isoformat(),
        points=14 * 1440,
        series=5,
        good=good,
    )


def _writer(payload: bytes):
    def write(folder: Path) -> None:
        (folder / "arrays.bin").write_bytes(payload)

    return write


@pytest.fixture(params=["local", "memory"])
def registry(request, tmp_path: Path) -> ModelRegistry:
    root = (
        tmp_path / "models"
        if request.param == "local"
        else f"memory://aiops-test-{id(request)}/models"
    )
    return ModelRegistry(root, keep=3)


def test_round_trip_and_metadata(registry: ModelRegistry, tmp_path: Path) -> None:
    meta = _meta(NIGHT)
    path = registry.save(meta, _writer(b"v1"))
    found = registry.latest_good("baseline/shard-0")
    assert found is not None and found[1] == meta
    local = registry.local_copy(found[0], tmp_path / "copy")
    assert (local / "arrays.bin").read_bytes() == b"v1"
    assert (path / META).exists()


def test_retraining_the_same_night_replaces_that_version(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    registry.save(_meta(NIGHT), _writer(b"first"))
    registry.save(_meta(NIGHT), _writer(b"second"))
    assert [m.version for m in registry.versions("baseline/shard-0")] == ["20261031T000000Z"]
    path, _ = registry.latest_good("baseline/shard-0")
    assert (registry.local_copy(path, tmp_path / "c") / "arrays.bin").read_bytes() == b"second"


def test_keeps_the_last_k_versions(registry: ModelRegistry) -> None:
    for day in range(5):
        registry.save(_meta(NIGHT + timedelta(days=day)), _writer(bytes([day])))
    assert [m.data_end_dt for m in registry.versions("baseline/shard-0")] == [
        NIGHT + timedelta(days=d) for d in (2, 3, 4)
    ]


def test_backfills_use_the_model_that_existed_then_and_skip_bad_ones(
    registry: ModelRegistry,
) -> None:
    registry.save(_meta(NIGHT), _writer(b"a"))
    registry.save(_meta(NIGHT + timedelta(days=1), good=False), _writer(b"b"))
    registry.save(_meta(NIGHT + timedelta(days=2)), _writer(b"c"))
    assert registry.latest_good("baseline/shard-0")[1].data_end_dt == NIGHT + timedelta(days=2)
    as_of = NIGHT + timedelta(days=1, hours=5)  # the bad one is newer than NIGHT but not good
    assert registry.latest_good("baseline/shard-0", as_of)[1].data_end_dt == NIGHT
    assert registry.latest_good("baseline/shard-0", NIGHT - timedelta(hours=1)) is None
    assert registry.latest_good("never-trained") is None


def test_a_version_without_metadata_is_invisible(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    half = tmp_path / "models" / "baseline" / "20261101T000000Z"
    half.mkdir(parents=True)
    (half / "arrays.bin").write_bytes(b"partial write")
    registry.save(_meta(NIGHT, name="baseline"), _writer(b"ok"))
    assert [m.version for m in registry.versions("baseline")] == ["20261031T000000Z"]


def test_writer_failure_leaves_the_previous_version_intact(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    registry.save(_meta(NIGHT), _writer(b"good"))

    def broken(folder: Path) -> None:
        (folder / "arrays.bin").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        registry.save(_meta(NIGHT), broken)
    path, _ = registry.latest_good("baseline/shard-0")
    assert (Path(path.path) / "arrays.bin").read_bytes() == b"good"


def test_version_must_match_the_data_window(tmp_path: Path) -> None:
    meta = _meta(NIGHT)
    wrong = ModelMeta(**{**meta.__dict__, "version": "20200101T000000Z"})
    with pytest.raises(RegistryError, match="does not match data_end"):
        ModelRegistry(tmp_path).save(wrong, _writer(b""))
