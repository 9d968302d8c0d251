"""Airflow plugin: the AIOps page (services, incidents, forecasts, the dependency map) in the
Airflow UI's navigation, served by Airflow's API server from the results store.

The work is in `aiops.airflow.page` (the Airflow glue) and `aiops.ui` (the pages); this file
only declares the plugin, which is what Airflow's plugin loader looks for in this folder.
"""

from airflow.plugins_manager import AirflowPlugin

from aiops.airflow.page import NAV_VIEW, URL_PREFIX, page_app


class AiopsPagePlugin(AirflowPlugin):
    name = "aiops"
    fastapi_apps = [{"app": page_app(), "url_prefix": URL_PREFIX, "name": "AIOps"}]
    external_views = [NAV_VIEW]
