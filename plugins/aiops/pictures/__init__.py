"""Pictures of findings: the data (model), what every drawing of it shows (parts), drawn as
Mermaid for issues (mermaid) and as PNG/SVG for the dry-run folder, the CLI and the Airflow
page (draw)."""
