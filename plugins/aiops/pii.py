"""Personal data and secrets masked before text leaves the process (issue bodies, comments,
LLM prompts): emails, payment card numbers, bearer tokens, JWTs, API keys, `key=value`
secrets, passwords in URLs, and optionally IP addresses.

Patterns are chosen to mask what is there and nothing else: a card number must pass the Luhn
check and start like a card (so an order ID or an epoch in milliseconds is left alone), an
email needs a dotted domain (so `root@server` in a prompt is left alone), an API key needs a
vendor's prefix or a `key=` before it. Masking is idempotent: masked text masks to itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)(?=@)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_BEARER = re.compile(
    r"(?P<head>\b(?:[Bb]earer|BEARER)\s+|\b[Aa]uthorization:\s*(?:Basic|[Tt]oken)\s+)"
    r"(?!<)[A-Za-z0-9\-._~+/]{8,}=*"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_VENDOR_KEY = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|sk-ant-[A-Za-z0-9_-]{20,}"
    r"|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,})"
)
_SECRET_FIELD = re.compile(
    r"(?P<head>(?P<q>[\"']?)\b(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|token"
    r"|client[_-]?secret|secret|password|passwd|pwd)(?P=q)\s*[=:]\s*(?P<v>[\"']?))"
    r"(?!<)(?P<value>[^\s\"'&,;}]+)",
    re.I,
)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|35|3[068])")


@dataclass(frozen=True)
class PiiMasker:
    """What to mask; ``ips`` is off by default, since addresses are often what an operator
    needs to read in a finding about a host."""

    ips: bool = False

    def mask(self, text: str) -> str:
        return self.mask_counted(text)[0]

    def mask_counted(self, text: str) -> tuple[str, Counter[str]]:
        """The masked text and how many of each kind were masked (for an audit line)."""
        counts: Counter[str] = Counter()

        def sub(pattern: re.Pattern[str], kind: str, replace) -> None:
            nonlocal text

            def one(match: re.Match[str]) -> str:
                new = replace(match)
                if new != match.group(0):
                    counts[kind] += 1
                return new

            text = pattern.sub(one, text)

        sub(_URL_PASSWORD, "url_password", lambda m: f"{m['head']}<password>")
        sub(_JWT, "jwt", lambda m: "<jwt>")
        sub(_BEARER, "bearer_token", lambda m: f"{m['head']}<token>")
        sub(_VENDOR_KEY, "api_key", lambda m: "<api-key>")
        sub(_SECRET_FIELD, "secret", lambda m: f"{m['head']}<secret>")
        sub(_EMAIL, "email", lambda m: "<email>")
        sub(_CARD, "card", lambda m: "<card>" if _is_card(m.group(0)) else m.group(0))
        if self.ips:
            sub(_IPV4, "ip", lambda m: "<ip>")
            sub(_IPV6, "ip", lambda m: "<ip>" if _is_ipv6(m.group(0)) else m.group(0))
        return text, counts


def mask_pii(text: str, *, ips: bool = False) -> str:
    return PiiMasker(ips=ips).mask(text)


def _is_ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False  # a time of day, a MAC-like label
    return True


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits):
        return False
    if re.search(r"[ -]", candidate) and not re.fullmatch(
        r"\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?|\d{4}[ -]\d{6}[ -]\d{5}", candidate
    ):
        return False  # separators only in the places cards put them
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0
