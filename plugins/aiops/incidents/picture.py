"""An incident's chain as a picture (aiops.pictures): the root, then each service it spread
to along the call path the ranking found, with how long after the root each one moved."""

from __future__ import annotations

from typing import Any

from aiops.pictures.model import ChainPicture, ChainStep


def chain_picture(incident_id: str, ranking: dict[str, Any]) -> ChainPicture | None:
    """The chain of a stored ranking (``incidents.ranking``, `Ranking.to_json()`), root first;
    None when the ranking has no chain (nothing to draw)."""
    steps = tuple(
        ChainStep(
            service=link["service"],
            signal=link["signal"],
            lag_seconds=None if link.get("lag_seconds") is None else float(link["lag_seconds"]),
            via=tuple(link.get("via") or ()),
        )
        for link in ranking.get("chain") or ()
    )
    return ChainPicture(incident_id, steps) if steps else None
