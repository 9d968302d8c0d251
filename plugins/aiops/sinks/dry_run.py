"""Rendered issues as markdown files, to review a run before anything reaches GitHub.

`root/<owner>/<repo>/<fingerprint>.md` holds one issue: a small front matter (title, labels,
repository, fingerprint, state), the body, then a "Comments" section the repeat-evidence
comments are appended to. An issue with a picture (a forecast, an incident's chain, a part of
the dependency map) shows it in the body as the Mermaid block GitHub would draw, and as
`<fingerprint>.png` beside the file for readers without Mermaid. Like the GitHub sink it stands in for, it is idempotent: a file is
written only when its content changes, so a rerun leaves the files and their modification times
alone, and a comment that is already there is not added again.

It is also an issue tracker (aiops.sinks.tracker), so the nightly filing runs the same logic
on it as on GitHub: set `state: closed` and `state_reason: not_planned` in a file's front
matter and the problem is never filed again, exactly as closing the issue on GitHub would.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiops.sinks.render import RenderedIssue
from aiops.sinks.tracker import IssueRef

COMMENTS = "\n## Comments\n"
_SEPARATOR = "\n---\n\n"  # before each comment
_REPO = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
_FRONT_LINE = re.compile(r"^([a-z_]+): ?(.*)$")


@dataclass(frozen=True)
class Written:
    path: Path
    changed: bool  # False when the file already held exactly this content


class DryRunSink:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.sink = self.root.resolve().as_uri()
        self.writes = 0  # files changed, like the GitHub tracker's write calls

    def folder_for(self, repository: str) -> Path:
        repo = _REPO.match(repository)
        if not repo or {repo.group(1), repo.group(2)} & {".", ".."}:
            raise ValueError(f"dry-run sink: repository must be 'owner/repo', got {repository!r}")
        return self.root / repo.group(1) / repo.group(2)

    def path_for(self, fingerprint: str, repository: str) -> Path:
        if not _FINGERPRINT.match(fingerprint):
            raise ValueError(
                f"dry-run sink: fingerprint must be 16 hex digits, got {fingerprint!r}"
            )
        return self.folder_for(repository) / f"{fingerprint}.md"

    def file(self, issue: RenderedIssue) -> Written:
        """Create or update the issue's file; its state and comments are kept."""
        path = self.path_for(issue.fingerprint, issue.repository)
        old = _read(path)
        _, found, comments = (old or "").partition(COMMENTS)
        state = _front_matter(old or "")
        front = _front(issue, state.get("state", "open"), state.get("state_reason"))
        text = f"{front}\n\n{issue.body.rstrip()}\n" + (COMMENTS + comments if found else "")
        written = self._write(path, old, text)
        if issue.picture is not None:  # for readers without Mermaid: the same picture as PNG
            from aiops.pictures.draw import png_bytes

            png = path.with_suffix(".png")
            _write_bytes(png, _read_bytes(png), png_bytes(issue.picture))
        return written

    def add_comment(self, fingerprint: str, repository: str, text: str) -> Written:
        """Append ``text`` under "Comments" unless that exact comment is already there."""
        path = self.path_for(fingerprint, repository)
        old = self._existing(path, fingerprint, repository)
        head, _, comments = old.partition(COMMENTS)
        block = f"{_SEPARATOR}{text.strip()}\n"
        if _holds(comments, block):
            return Written(path, False)
        return self._write(path, old, head + COMMENTS + comments + block)

    def set_state(self, fingerprint: str, repository: str, state: str, reason: str | None):
        """Rewrite the front matter's state (what closing or reopening does on GitHub)."""
        path = self.path_for(fingerprint, repository)
        old = self._existing(path, fingerprint, repository)
        front, _, rest = old.partition("\n---\n")
        lines = [ln for ln in front.splitlines() if not ln.startswith(("state:", "state_reason:"))]
        lines += [f"state: {state}", *([f"state_reason: {reason}"] if reason else [])]
        return self._write(path, old, "\n".join(lines) + "\n---\n" + rest)

    # -- the issue tracker the filing logic files with ------------------------------------------

    def listed(self, repository: str, label: str, state: str) -> Iterator[IssueRef]:
        folder = self.folder_for(repository)
        for path in sorted(folder.glob("*.md")) if folder.is_dir() else ():
            ref = self._ref(path, repository)
            if ref and ref.state == state and label in _front_matter(ref.body).get("labels", []):
                yield ref

    def get(self, repository: str, number: int | None, fingerprint: str) -> IssueRef | None:
        return self._ref(self.path_for(fingerprint, repository), repository)

    def create(self, issue: RenderedIssue) -> IssueRef:
        written = self.file(issue)
        ref = self._ref(written.path, issue.repository)
        assert ref is not None
        return ref

    def comment(self, ref: IssueRef, body: str) -> None:
        assert ref.fingerprint is not None, ref
        self.add_comment(ref.fingerprint, ref.repository, body)

    def reopen(self, ref: IssueRef) -> IssueRef:
        assert ref.fingerprint is not None, ref
        written = self.set_state(ref.fingerprint, ref.repository, "open", "reopened")
        reopened = self._ref(written.path, ref.repository)
        assert reopened is not None
        return reopened

    # -- files --------------------------------------------------------------------------------

    def _ref(self, path: Path, repository: str) -> IssueRef | None:
        text = _read(path)
        if text is None:
            return None
        front = _front_matter(text)
        return IssueRef(
            repository=repository,
            number=None,
            url=str(path),
            state=str(front.get("state", "open")),
            state_reason=front.get("state_reason") or None,
            fingerprint=path.stem,
            body=text,
        )

    def _existing(self, path: Path, fingerprint: str, repository: str) -> str:
        old = _read(path)
        if old is None:
            raise FileNotFoundError(
                f"{path}: no issue filed for fingerprint {fingerprint} in {repository}; "
                "file the issue before commenting on it"
            )
        return old

    def _write(self, path: Path, old: str | None, text: str) -> Written:
        written = _write(path, old, text)
        self.writes += written.changed
        return written


def _front(issue: RenderedIssue, state: str, reason: str | None) -> str:
    lines = [
        "---",
        f"title: {json.dumps(issue.title, ensure_ascii=False)}",
        f"labels: {json.dumps(list(issue.labels), ensure_ascii=False)}",
        f"repository: {issue.repository}",
        f"fingerprint: {issue.fingerprint}",
        f"state: {state}",
    ]
    return "\n".join([*lines, *([f"state_reason: {reason}"] if reason else []), "---"])


def _front_matter(text: str) -> dict:
    """The front matter's fields (title and labels decoded from JSON); {} without one."""
    if not text.startswith("---\n"):
        return {}
    fields: dict = {}
    for line in text[4:].split("\n---\n", 1)[0].splitlines():
        match = _FRONT_LINE.match(line)
        if match:
            key, value = match.groups()
            try:
                fields[key] = json.loads(value) if key in ("title", "labels") else value.strip()
            except ValueError:
                fields[key] = value
    return fields


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
    return _write_bytes(path, None if old is None else old.encode("utf-8"), text.encode("utf-8"))


def _write_bytes(path: Path, old: bytes | None, data: bytes) -> Written:
    if data == old:
        return Written(path, False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)  # a reader never sees half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Written(path, True)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
