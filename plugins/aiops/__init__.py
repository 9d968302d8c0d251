"""Predictive AIOps on Airflow: the domain package (no Airflow imports outside aiops.airflow)."""
