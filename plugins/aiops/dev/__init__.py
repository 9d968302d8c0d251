"""Development and demo tooling: the demo, the simulated world, local Prometheus and
Pushgateway servers, the local and distributed Airflow, evaluation helpers.

Only `aiops.cli`, the tests and the benchmarks import this package; the pipeline never does,
so a production image can leave it out.
"""
