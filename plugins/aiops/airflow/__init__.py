"""Adapters from Airflow Connections to the plain clients the domain code takes as arguments.

The only package under aiops that imports Airflow; DAG files call into it, domain code never does.
"""
