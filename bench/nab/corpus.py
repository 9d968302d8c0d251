"""NAB categories as the bench reads them: files, their windows, and per-category scores.

A category is one folder of `data/` (realKnownCause, realTraffic, ...). Scores are given
per category, each normalised on its own files (null = 0, perfect = 100), because the point
of the bench is to see whether a detector carries over from one kind of series to another;
a pooled score over all files would let the long realKnownCause files drown the rest.
A category whose folder is absent is skipped with a message, so the bench still runs on a
partial copy of the shared data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.nab import scoring

log = logging.getLogger(__name__)

#: The categories with real data; their mean is the headline figure.
REAL_CATEGORIES = ("realKnownCause", "realTraffic", "realAdExchange")
#: Synthetic series: one with labelled anomalies, one where every detection is a false positive.
ARTIFICIAL_WITH_ANOMALY = "artificialWithAnomaly"
ARTIFICIAL_NO_ANOMALY = "artificialNoAnomaly"
CATEGORIES = (*REAL_CATEGORIES, ARTIFICIAL_WITH_ANOMALY, ARTIFICIAL_NO_ANOMALY)


@dataclass(frozen=True)
class NabFile:
    """One series: its `timestamp,value` frame and its rows ready for the scorer."""

    name: str  # "category/file.csv", as in combined_windows.json
    category: str
    frame: pd.DataFrame
    prepared: scoring.PreparedFile


@dataclass
class Corpus:
    """The files of each category that was found, and why the others were skipped."""

    files: dict[str, list[NabFile]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def categories(self) -> list[str]:
        return list(self.files)

    def all_files(self) -> list[NabFile]:
        return [f for files in self.files.values() for f in files]


def load_corpus(nab_root: Path, categories: Sequence[str] = CATEGORIES) -> Corpus:
    """Read each category's files listed in `labels/combined_windows.json`.

    A category whose folder under `data/` is missing, or that has no file in the labels, is
    skipped, with a message in `Corpus.skipped` (and the log). A file the labels list but
    that is missing from a folder that exists is an error: the copy is damaged.
    """
    windows = scoring.load_windows(nab_root / "labels" / "combined_windows.json")
    corpus = Corpus()
    for category in categories:
        folder = nab_root / "data" / category
        names = sorted(k for k in windows if k.split("/")[0] == category)
        if not folder.is_dir():
            message = f"skipped {category}: folder {folder} not found"
        elif not names:
            message = f"skipped {category}: no file of it in {nab_root / 'labels'}"
        else:
            message = None
        if message is not None:
            log.warning(message)
            corpus.skipped.append(message)
            continue
        loaded = []
        for name in names:
            path = nab_root / "data" / name
            if not path.exists():
                raise FileNotFoundError(f"{path}: listed in combined_windows.json but missing")
            frame = pd.read_csv(path)
            prepared = scoring.prepare_file(name, frame["timestamp"], windows[name])
            loaded.append(NabFile(name, category, frame, prepared))
        corpus.files[category] = loaded
    return corpus


def category_score(
    files: Iterable[NabFile], per_file: Mapping[str, scoring.FileScore]
) -> float | None:
    """The category's normalised score; None when it has no window (nothing to normalise by)."""
    prepared = [f.prepared for f in files]
    null, perfect = scoring.null_and_perfect(prepared)
    if perfect == null:
        return None
    return scoring.normalised(sum(per_file[p.name].raw for p in prepared), null, perfect)


def scores_at_threshold(
    files: Iterable[NabFile], scores: Mapping[str, np.ndarray], threshold: float
) -> dict[str, scoring.FileScore]:
    """Each file's score with detections = anomaly score >= threshold (every row counts)."""
    return {
        f.name: scoring.score_detections(f.prepared, np.asarray(scores[f.name]) >= threshold)
        for f in files
    }


def best_threshold_over_categories(
    corpus: Corpus, scores: Mapping[str, np.ndarray], categories: Sequence[str]
) -> tuple[float, float]:
    """One threshold for every file: the one with the best mean score over `categories`.

    The comparators get this in-sample choice (it favours them); candidates are the pooled
    score quantiles of those categories' files, as in `scoring.best_threshold`.
    """
    chosen = [f for c in categories for f in corpus.files.get(c, [])]
    if not chosen:
        raise ValueError(f"no file in categories {list(categories)} to choose a threshold on")
    best = (-np.inf, 1.1)
    for t in scoring.threshold_candidates([scores[f.name] for f in chosen]):
        per_file = scores_at_threshold(chosen, scores, float(t))
        values = [
            category_score(corpus.files[c], per_file) for c in categories if c in corpus.files
        ]
        value = float(np.mean([v for v in values if v is not None]))
        if value > best[0]:
            best = (value, float(t))
    return best[1], best[0]
