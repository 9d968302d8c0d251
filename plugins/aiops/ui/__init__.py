"""The read-only AIOps page that Airflow's API server mounts: which services are unwell now,
their forecasts, incidents and the dependency map, served from the results store.

`app.create_app` builds it and routes each request to one question and one page:

* the questions ask the store and answer with the `records`: `state_queries` (every
  service's state, for the overview), `service_queries`, `incident_queries` and
  `map_queries`, built on `store_reads` (the aggregate SELECTs) and `row_summaries` (a row
  as its record);
* the pages write records as HTML and read neither the store nor the clock:
  `overview_page`, `service_page`, `incident_page`, `graph_page` and `error_pages`, made of
  `layout` (the frame, escaping, links), `tables` (what several pages show) and `charts`
  (the drawings, inlined).

No Airflow import: the plugin that mounts it lives in aiops.airflow.
"""
