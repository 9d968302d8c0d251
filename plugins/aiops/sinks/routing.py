"""Which repository a finding's issue goes to: the catalog owner of the service that owns the fix.

Services outside the catalog are usually uninstrumented peers a trace names (a third-party API,
a managed database): their findings go to a configured default repository, typically the
platform team's, or fail with an error that says how to route them.
"""

from __future__ import annotations

import re

from aiops.catalog import Catalog
from aiops.findings.model import Finding

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # what the catalog accepts


class RoutingError(LookupError):
    """A finding no repository is configured for; the message says how to configure one."""


def repository_for(finding: Finding, catalog: Catalog, default_repository: str | None) -> str:
    """`owner/repo` for ``finding``: ``catalog.services[finding.service].owner``, else
    ``default_repository``; a RoutingError naming the service when there is neither."""
    service = catalog.services.get(finding.service)
    if service is not None:
        return service.owner
    if default_repository:
        if not _REPO.match(default_repository):
            raise ValueError(
                f"default repository: expected a GitHub repository 'owner/name', "
                f"got {default_repository!r}"
            )
        return default_repository
    options = (
        "set a default repository for services outside the catalog (default_repository='org/repo')"
    )
    if _SERVICE_NAME.match(finding.service):
        options = (
            f"add it to the service catalog (services: {finding.service}: "
            f"{{owner: org/repo, team: ...}}), or {options}"
        )
    raise RoutingError(
        f"no repository for the {finding.kind} finding {finding.fingerprint} about service "
        f"{finding.service!r}: it is not in the service catalog and no default repository is "
        f"set; {options}"
    )
