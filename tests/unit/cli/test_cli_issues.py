"""`aiops issues render` and `aiops issues file` on a findings file, into the dry-run folder
and onto a loopback GitHub, with the errors a user would make."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiops.cli.main import main
from fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from support.catalogs import catalog_yaml
from support.findings import CHECKOUT, DAY1, PRODUCTS, STRIPE

SERVICES = """  catalog: {owner: acme-shop/catalog, team: discovery}
  checkout: {owner: acme-shop/checkout, team: commerce}
issues:
  labels: [performance]
"""


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(catalog_yaml(SERVICES))
    findings = tmp_path / "findings.json"
    window = [t.isoformat() for t in DAY1]
    doc = {"summary": {"window": window}, "findings": [PRODUCTS.to_json(), CHECKOUT.to_json()]}
    findings.write_text(json.dumps(doc, indent=2))
    return {"catalog": catalog, "findings": findings, "out": tmp_path / "issues",
            "store": tmp_path / "aiops.db"}  # fmt: skip


def _args(files: dict[str, Path], action: str, *more: str) -> list[str]:
    return ["issues", action, str(files["findings"]), "--out", str(files["out"]),
            "--catalog", str(files["catalog"]), *more]  # fmt: skip


def test_render_writes_one_file_per_finding_and_rewrites_nothing(files, capsys) -> None:
    assert main(_args(files, "render")) == 0
    first = capsys.readouterr().out.splitlines()
    paths = [files["out"] / "acme-shop" / repo / f"{f.fingerprint}.md"
             for repo, f in (("catalog", PRODUCTS), ("checkout", CHECKOUT))]  # fmt: skip
    assert sorted(first) == sorted(f"wrote {p}" for p in paths)
    text = paths[0].read_text()
    assert (
        '"labels": ' not in text and 'labels: ["performance", "aiops", "aiops:n_plus_one"]' in text
    )
    assert "```sql\n-- before: one query per item, 18 per request" in text
    assert main(_args(files, "render")) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == sorted(f"unchanged {p}" for p in paths)


def test_file_dry_run_keeps_a_ledger_so_a_rerun_files_nothing(files, capsys) -> None:
    store = ["--store", f"sqlite:///{files['store']}", "--dry-run"]
    assert main(_args(files, "file", *store)) == 0
    out = capsys.readouterr().out
    assert out.count("created") >= 2 and "2 created; 2 write call(s)" in out
    assert main(_args(files, "file", *store)) == 0
    assert "2 already_filed; 0 write call(s)" in capsys.readouterr().out


def test_file_on_github_with_a_token(files, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", DEFAULT_TOKEN)
    with FakeGitHub() as github:
        github.add_repo("acme-shop", "catalog")
        github.add_repo("acme-shop", "checkout")
        args = _args(files, "file", "--store", f"sqlite:///{files['store']}",
                     "--github-url", github.url)  # fmt: skip
        assert main(args) == 0
        assert len(github.writes()) == 2
        assert main(args) == 0
        assert len(github.writes()) == 2
        assert github.violations == []
    out = capsys.readouterr().out
    assert "created          acme-shop/catalog" in out and "/acme-shop/catalog/issues/1" in out
    assert DEFAULT_TOKEN not in out


def test_errors_name_the_file_and_what_to_do(files, capsys, tmp_path) -> None:
    files["findings"].write_text('{"findings": [\n  {"kind": }\n]}')
    assert main(_args(files, "render")) == 2
    assert f"error: {files['findings']}:2:12: invalid JSON" in capsys.readouterr().err

    files["findings"].write_text(json.dumps({"findings": [PRODUCTS.to_json()]}))
    assert main(_args(files, "render")) == 2
    assert "no analysed window in the file; give --start and --end" in capsys.readouterr().err

    files["findings"].write_text(json.dumps({"summary": {"window": [t.isoformat() for t in DAY1]},
                                             "findings": [STRIPE.to_json()]}))  # fmt: skip
    assert main(_args(files, "render")) == 1
    err = capsys.readouterr().err
    assert "'stripe-api': it is not in the service catalog and no default repository" in err
