"""Prompt templates from `include/prompts/`: `<name>.system.md` and `<name>.user.md`, with
`string.Template` placeholders (`$findings`). Kept as files so a reader sees exactly what is
sent and a change to them shows in review; the cache key hashes the rendered text, so an
edited template is a cache miss by construction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).resolve().parents[3] / "include" / "prompts"


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    system: str
    user: Template

    def render(self, **values: str) -> str:
        """The user message; a placeholder without a value is an error naming it."""
        try:
            return self.user.substitute(values)
        except KeyError as exc:
            raise ValueError(f"prompt {self.name!r}: no value for ${exc.args[0]}") from None


def load_prompt(name: str, folder: Path | None = None) -> PromptTemplate:
    folder = folder or PROMPTS_DIR
    try:
        system = (folder / f"{name}.system.md").read_text(encoding="utf-8").strip()
        user = (folder / f"{name}.user.md").read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{folder}: prompt {name!r} cannot be read: {exc}") from exc
    return PromptTemplate(name, system, Template(user))
