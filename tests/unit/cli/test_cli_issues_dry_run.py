"""`AIOPS_ISSUES_DRY_RUN=1` wins over a token: `aiops issues file` with GITHUB_TOKEN set and a
GitHub listening writes the issues as markdown files and sends GitHub nothing (the demo and
a developer's shell rely on it to never file real issues by accident)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiops.cli.main import main
from fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from support.catalogs import catalog_yaml
from support.findings import CHECKOUT, DAY1, PRODUCTS

SERVICES = """  catalog: {owner: acme-shop/catalog, team: discovery}
  checkout: {owner: acme-shop/checkout, team: commerce}
"""


@pytest.mark.parametrize("value", ["1", "true"])
def test_the_dry_run_variable_keeps_a_token_from_filing(
    value: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    catalog, findings, out = tmp_path / "catalog.yaml", tmp_path / "findings.json", tmp_path / "md"
    catalog.write_text(catalog_yaml(SERVICES))
    doc = {"summary": {"window": [t.isoformat() for t in DAY1]},
           "findings": [PRODUCTS.to_json(), CHECKOUT.to_json()]}  # fmt: skip
    findings.write_text(json.dumps(doc))
    monkeypatch.setenv("GITHUB_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("AIOPS_ISSUES_DRY_RUN", value)
    with FakeGitHub() as github:
        github.add_repo("acme-shop", "catalog")
        github.add_repo("acme-shop", "checkout")
        code = main(["issues", "file", str(findings), "--out", str(out), "--catalog",
                     str(catalog), "--store", f"sqlite:///{tmp_path / 'aiops.db'}",
                     "--github-url", github.url])  # fmt: skip
        assert github.requests == []  # not a write, not even a read
    assert code == 0
    written = sorted(out.rglob("*.md"))
    assert [p.relative_to(out).parts[:2] for p in written] == [
        ("acme-shop", "catalog"), ("acme-shop", "checkout")
    ]  # fmt: skip
    assert PRODUCTS.fingerprint in written[0].read_text()
    assert "2 created" in capsys.readouterr().out
