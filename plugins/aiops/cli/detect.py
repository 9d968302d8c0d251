"""`aiops detect`: a two-column time,value CSV scored causally with the default detector.

Prints what reading the file found and repaired (rows read, columns used, repeated
timestamps combined, rows sorted, the step, gaps), then the scoring summary; a file that
cannot be read is one line on stderr naming the file and line, and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_detect(args: argparse.Namespace) -> int:
    from aiops.metrics.detect_csv import DetectInputError, detect_csv

    try:
        summary = detect_csv(args.input, args.output)
    except (DetectInputError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    for line in summary.report.lines():
        print(line)
    print(summary)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "detect", help="score a timestamp,value CSV causally with the default detector"
    )
    p.add_argument(
        "--input",
        type=Path,
        required=True,
        help="CSV with columns timestamp,value (or any two columns: time, then value)",
    )
    p.add_argument(
        "--output",
        type=Path,
        required=True,
        help="CSV: timestamp,value,anomaly_score,is_anomaly, one row per step with a value",
    )
    p.set_defaults(func=_cmd_detect)
