"""What a real Prometheus says about a catalog: `aiops catalog check --prometheus` runs every
catalog query for a recent window (`live_check`), `aiops catalog discover` writes a starting
catalog from the metric conventions the server's series follow (`conventions`, `registry`,
`discover`). Both read the server through `server_api` and never import Airflow."""
