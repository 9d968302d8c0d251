"""TLS material for the scaler's gRPC and HTTP servers and for its client.

KEDA's external trigger takes ``caCert``, ``tlsClientCert`` and ``tlsClientKey`` (through a
TriggerAuthentication): the server presents a certificate KEDA's CA trusts and, with a
client CA configured, accepts only clients presenting a certificate that CA signed (mTLS).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

from aiops.scaler.config import ScalerConfig, ScalerConfigError


def read_pem(path: Path, what: str) -> bytes:
    """The bytes of a PEM file; errors name the setting and the path."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ScalerConfigError(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    if b"-----BEGIN" not in data:
        raise ScalerConfigError(f"{what}: {path} is not a PEM file")
    return data


def server_credentials(config: ScalerConfig) -> grpc.ServerCredentials | None:
    """gRPC server credentials, or None for plaintext; a client CA makes client certs required."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    pair = (read_pem(config.tls_key, "tls_key"), read_pem(config.tls_cert, "tls_cert"))
    client_ca = (
        None if config.tls_client_ca is None else read_pem(config.tls_client_ca, "tls_client_ca")
    )
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def http_ssl_context(config: ScalerConfig) -> ssl.SSLContext | None:
    """The same certificate (and client CA) for the HTTP endpoint, or None for plain HTTP."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
        if config.tls_client_ca is not None:
            context.load_verify_locations(cafile=config.tls_client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ScalerConfigError(f"tls_cert/tls_key/tls_client_ca: {exc}") from exc
    return context


def channel_credentials(
    ca_cert: Path | bytes | None,
    client_cert: Path | bytes | None = None,
    client_key: Path | bytes | None = None,
) -> grpc.ChannelCredentials:
    """Client credentials trusting ``ca_cert`` (None: the system roots), with an optional
    client certificate for mTLS. Paths or PEM bytes, as KEDA passes PEM contents."""

    def pem(value: Path | bytes | None, what: str) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        return read_pem(Path(value), what)

    if (client_cert is None) != (client_key is None):
        raise ScalerConfigError("client_cert and client_key: give both or neither")
    return grpc.ssl_channel_credentials(
        root_certificates=pem(ca_cert, "ca_cert"),
        private_key=pem(client_key, "client_key"),
        certificate_chain=pem(client_cert, "client_cert"),
    )
