"""Imported once by the forkserver process so Prophet workers fork with Prophet loaded."""

from aiops.forecast.prophet_pool import quiet_prophet_logging

quiet_prophet_logging()

import prophet  # noqa: E402,F401
