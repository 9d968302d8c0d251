"""PII and secrets masked before text leaves the process, on a table of tricky inputs: what
must be masked, and what looks close but must be left alone."""

from __future__ import annotations

import pytest

from aiops.pii import PiiMasker, mask_pii

MASKED = [
    ("contact alice.smith+ops@example.co.uk now", "contact <email> now"),
    ("from <bob@mail.example.com>", "from <<email>>"),
    ("visa 4111 1111 1111 1111 paid", "visa <card> paid"),
    ("visa 4111-1111-1111-1111", "visa <card>"),
    ("card=5555555555554444;", "card=<card>;"),
    ("amex 3782 822463 10005", "amex <card>"),
    ("Authorization: Bearer abc.def-ghi_jkl~123", "Authorization: Bearer <token>"),
    ("authorization: token 0123456789abcdef", "authorization: token <token>"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic <token>"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N", "jwt <jwt>"),
    ("GET /v1/items?api_key=abc123&page=2", "GET /v1/items?api_key=<secret>&page=2"),
    ("using ghp_16C7e42F292c6912E7710c838347Ae178B4a", "using <api-key>"),
    ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv", "key <api-key>"),
    ("aws AKIAIOSFODNN7EXAMPLE", "aws <api-key>"),
    ("slack xoxb-1234567890-abcdefghij", "slack <api-key>"),
    ("password=hunter2 user=bob", "password=<secret> user=bob"),
    ('{"password": "hunter2", "user": "bob"}', '{"password": "<secret>", "user": "bob"}'),
    ("client_secret: 's3cr3t'", "client_secret: '<secret>'"),
    ("postgres://app:s3cr%40t@db:5432/app", "postgres://app:<password>@db:5432/app"),
    ("redis://:hunter2@cache:6379/0", "redis://:<password>@cache:6379/0"),  # no user name
]

LEFT_ALONE = [
    "SELECT * FROM users WHERE email = ?",
    "root@server:~$ ls",
    "order 4111111111111112 (fails the Luhn check)",
    "ts 1761800000000 epoch ms",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736",
    "uuid 550e8400-e29b-41d4-a716-446655440000",
    "token validation failed for user 42",
    "the basic plan costs 10",
    "phone 1234 5678 9012 3456 is not a card prefix: 1",
    "https://example.com/path?page=2",
    "password reset requested",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_secrets_and_personal_data_are_masked(text, expected) -> None:
    assert mask_pii(text) == expected
    assert mask_pii(expected) == expected  # idempotent


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_look_alikes_are_left_alone(text) -> None:
    assert mask_pii(text) == text


def test_ips_only_when_asked_and_counts_say_what_was_masked() -> None:
    text = "from 10.1.2.3 and fe80::1ff:fe23:4567:890a, not 10.0.0.256, v1.2.3 or 12:30:45"
    assert mask_pii(text) == text
    masked, counts = PiiMasker(ips=True).mask_counted(text)
    assert masked == "from <ip> and <ip>, not 10.0.0.256, v1.2.3 or 12:30:45"
    assert counts == {"ip": 2}
    _, counts = PiiMasker().mask_counted("a@b.io c@d.io password=x")
    assert counts == {"email": 2, "secret": 1}
