"""The AIOps page's clock: the wall clock unless AIOPS_PAGE_NOW pins it (a demo world or a
backfill reviewed as of its end); a time without a timezone is refused, naming the variable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiops.airflow.page import page_clock
from aiops.ui.app import utc_now


def test_unset_is_the_wall_clock() -> None:
    assert page_clock(None) is utc_now and page_clock("") is utc_now


def test_a_pinned_time_is_now_on_every_call() -> None:
    clock = page_clock("2026-10-31T16:00:00+00:00")
    assert clock() == clock() == datetime(2026, 10, 31, 16, tzinfo=UTC)


@pytest.mark.parametrize("pinned", ["2026-10-31T16:00:00", "yesterday"])
def test_a_time_without_a_timezone_or_not_a_time_is_refused_by_name(pinned: str) -> None:
    with pytest.raises(ValueError, match=f"AIOPS_PAGE_NOW: needs an ISO 8601 time.*{pinned}"):
        page_clock(pinned)
