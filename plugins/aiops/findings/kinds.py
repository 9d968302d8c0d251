"""Finding kinds: what each kind of finding is called and why it matters, one entry per kind.

Every source of findings declares the kinds it emits as `FindingKind(name, label, why)` in
the module that emits them: the trace detectors next to each detector (through the detector
registry, aiops.traces.detectors), the log miner in aiops.logs.findings, the incident report
in aiops.incidents.report, the right-sizing recommendations in aiops.rightsizing.findings,
the predicted breaches in aiops.predictive.findings.
The label is how the kind reads in a picture, a list and the
issue's "Detector" line; the why is the one sentence after an issue's title.

A kind may also say when a finding found again is worth a comment on its open issue
(``worth_telling``). A fingerprint names the problem, not its numbers, so the filing rules
(aiops.sinks.filing) would otherwise comment once a day with whatever was measured; for a kind
whose numbers are advice (right-sizing: "set the request to 120m"), a comment that says 118m
tomorrow is noise. Without it (most kinds: each day's evidence is new) every day is told.

The renderers look a kind up here and never guess. A kind nobody registered is an
`UnknownKindError` naming it, not an issue that calls it something made up and says nothing
about why it matters; a `FindingKind` without a label or a why cannot be built; and the tests
walk every kind the code emits and fail on one that is not here.

The built-in sources are listed in `SOURCES`, by module. They register their kinds when they
are imported, and the registry imports them before it answers "unknown" or lists its kinds,
so a process that only renders stored findings (the filing task, `aiops issues`) knows every
kind without importing the analyses itself. A new source of findings adds its module there.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")

#: Modules that register the built-in kinds when imported: every source of findings.
SOURCES = (
    "aiops.traces.detectors",
    "aiops.logs.findings",
    "aiops.incidents.report",
    "aiops.rightsizing.findings",
    "aiops.predictive.findings",
)


@dataclass(frozen=True)
class FindingKind:
    """One kind of finding (`Finding.kind`) and the words every renderer uses for it.

    ``worth_telling(last_told, today)`` takes two `Finding.to_json()` documents, the one last
    written to the open issue and today's, and says whether today's is worth a comment; None
    (the default) tells every day. Being a function, it compares by identity: two declarations
    are equal only with the very same function, and registering the same entry again stays a
    no-op."""

    name: str  # Finding.kind, snake_case: "n_plus_one"
    label: str  # short, for a picture or a list: "N+1", "fan-out"
    why: str  # one sentence: why this kind of problem matters to the team receiving it
    worth_telling: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"FindingKind.name: must be snake_case like 'n_plus_one', got {self.name!r}"
            )
        for field in ("label", "why"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip() or "\n" in value:
                raise ValueError(
                    f"FindingKind {self.name!r}: {field} must be one line of text, got {value!r}"
                )
        if self.why.rstrip()[-1] not in ".!?":
            raise ValueError(
                f"FindingKind {self.name!r}: why must be a sentence (end it with '.'), got {self.why!r}"
            )
        if self.worth_telling is not None and not callable(self.worth_telling):
            raise ValueError(
                f"FindingKind {self.name!r}: worth_telling must be a function of (last told, "
                f"today) finding documents or None, got {self.worth_telling!r}"
            )


class UnknownKindError(LookupError):
    """A finding's kind that no source registered: its label and why would be made up."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        super().__init__(
            f"finding kind {name!r} is not registered (registered: {', '.join(sorted(known))}); "
            "declare it with FindingKind(name, label, why) where it is emitted (a trace "
            "detector's DetectorSpec, or aiops.findings.kinds.KINDS.register)"
        )


class KindRegistry:
    """The finding kinds by name. A kind is declared once: `register` refuses a second entry
    under a registered name (two sources claiming one kind, or disagreeing on its words);
    registering the very same entry again is a no-op."""

    def __init__(self, sources: Iterable[str] = ()) -> None:
        self._sources = tuple(sources)
        self._loaded = not self._sources
        self._kinds: dict[str, FindingKind] = {}

    def register(self, kind: FindingKind) -> FindingKind:
        """Add ``kind``; returns it, so a module can keep `KIND = KINDS.register(...)`."""
        if not isinstance(kind, FindingKind):
            raise TypeError(f"KindRegistry.register: expected a FindingKind, got {kind!r}")
        known = self._kinds.get(kind.name)
        if known is not None and known is not kind:
            raise ValueError(
                f"finding kind {kind.name!r} is already registered ({known}); refusing a second "
                f"declaration ({kind})"
            )
        self._kinds[kind.name] = kind
        return kind

    def unregister(self, name: str) -> None:
        if self._kinds.pop(name, None) is None:
            raise UnknownKindError(name, self._kinds)

    def get(self, name: str) -> FindingKind:
        """The kind called ``name``; `UnknownKindError` when no source registered it."""
        kind = self._kinds.get(name)
        if kind is None:
            self._load()
            kind = self._kinds.get(name)
            if kind is None:
                raise UnknownKindError(name, self._kinds)
        return kind

    def all(self) -> tuple[FindingKind, ...]:
        """Every registered kind, the built-in sources' included, in registration order."""
        self._load()
        return tuple(self._kinds.values())

    def __contains__(self, name: object) -> bool:
        if name not in self._kinds:
            self._load()
        return name in self._kinds

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # first: a source importing another must not start over
        try:
            for module in self._sources:
                importlib.import_module(module)
        except BaseException:
            self._loaded = False
            raise


#: The registry every source registers into and every renderer reads.
KINDS = KindRegistry(SOURCES)
