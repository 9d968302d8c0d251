"""Rendered issues as markdown files, to review a run before anything reaches GitHub.

`root/<owner>/<repo>/<fingerprint>.md` holds one issue: a small front matter (title, labels,
repository, fingerprint), the body, then a "Comments" section the repeat-evidence comments are
appended to. Like the GitHub sink it stands in for, it is idempotent: a file is written only
when its content changes, so a rerun leaves the files and their modification times alone, and
a comment that is already there is not added again.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiops.sinks.render import RenderedIssue

COMMENTS = "\n## Comments\n"
_SEPARATOR = "\n---\n\n"  # before each comment
_REPO = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Written:
    path: Path
    changed: bool  # False when the file already held exactly this content


class DryRunSink:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, fingerprint: str, repository: str) -> Path:
        repo = _REPO.match(repository)
        if not repo or {repo.group(1), repo.group(2)} & {".", ".."}:
            raise ValueError(f"dry-run sink: repository must be 'owner/repo', got {repository!r}")
        if not _FINGERPRINT.match(fingerprint):
            raise ValueError(
                f"dry-run sink: fingerprint must be 16 hex digits, got {fingerprint!r}"
            )
        return self.root / repo.group(1) / repo.group(2) / f"{fingerprint}.md"

    def file(self, issue: RenderedIssue) -> Written:
        """Create or update the issue's file; comments already in it are kept."""
        path = self.path_for(issue.fingerprint, issue.repository)
        old = _read(path)
        _, found, comments = (old or "").partition(COMMENTS)
        front = "\n".join([
            "---",
            f"title: {json.dumps(issue.title, ensure_ascii=False)}",
            f"labels: {json.dumps(list(issue.labels), ensure_ascii=False)}",
            f"repository: {issue.repository}",
            f"fingerprint: {issue.fingerprint}",
            "---",
        ])  # fmt: skip
        text = f"{front}\n\n{issue.body.rstrip()}\n" + (COMMENTS + comments if found else "")
        return _write(path, old, text)

    def comment(self, fingerprint: str, repository: str, text: str) -> Written:
        """Append ``text`` under "Comments" unless that exact comment is already there."""
        path = self.path_for(fingerprint, repository)
        old = _read(path)
        if old is None:
            raise FileNotFoundError(
                f"{path}: no issue filed for fingerprint {fingerprint} in {repository}; "
                "file the issue before commenting on it"
            )
        head, _, comments = old.partition(COMMENTS)
        block = f"{_SEPARATOR}{text.strip()}\n"
        if _holds(comments, block):
            return Written(path, False)
        return _write(path, old, head + COMMENTS + comments + block)


def _holds(comments: str, block: str) -> bool:
    """Whether ``block`` is one whole comment in ``comments``, not a part of a longer one."""
    start = comments.find(block)
    while start >= 0:
        rest = comments[start + len(block) :]
        if not rest or rest.startswith(_SEPARATOR):
            return True
        start = comments.find(block, start + 1)
    return False


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None


def _write(path: Path, old: str | None, text: str) -> Written:
    if text == old:
        return Written(path, False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
        os.replace(tmp, path)  # a reader never sees half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Written(path, True)
