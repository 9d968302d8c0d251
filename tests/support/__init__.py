"""Shared test helpers: catalogs, stores, trace builders, compose fixtures."""
