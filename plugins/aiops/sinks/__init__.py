"""Sinks: where findings go. `render` turns a Finding into a GitHub issue (title, markdown
body, labels, the fingerprint marker the issue is found again by), `routing` picks the
repository from the catalog, `dry_run` files the rendered issues as markdown files so a run
can be reviewed before anything reaches GitHub, and `github` is the REST client (pages,
write spacing, rate limits) the filing step will use."""
