"""The marks of a test module that needs the real Prometheus and promtool binaries."""

from __future__ import annotations

import shutil

import pytest

PROMETHEUS_MISSING = shutil.which("promtool") is None or shutil.which("prometheus") is None

#: `pytestmark = NEEDS_PROMETHEUS`: marked `prometheus`, skipped (saying why) without them
NEEDS_PROMETHEUS = [
    pytest.mark.prometheus,
    pytest.mark.skipif(
        PROMETHEUS_MISSING,
        reason="prometheus/promtool not on PATH (apt-get install prometheus, or make setup)",
    ),
]
