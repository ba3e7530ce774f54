"""The cluster's certificates: a CA per state dir and a serving certificate for the API.

Real clients (kubectl, client-go, the official Python client) send a bearer token only
over TLS, and verify the server against the kubeconfig's `certificate-authority-data`.
So each state dir gets its own CA (`pki/ca.crt`, key `pki/ca.key`, 0600) and a serving
certificate for 127.0.0.1, ::1 and localhost (and the in-cluster names, in_cluster.py)
signed by it. Keys are ECDSA P-256: made in
milliseconds, so the first start stays fast. A later start only reads the PEM files
(the `cryptography` import is paid once); the serving certificate is renewed when it is
within 30 days of expiry or names other addresses.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .files import write_atomic as _write
from .in_cluster import DNS_NAMES, SERVICE_IP

SERVER_NAMES = ("localhost", *DNS_NAMES)  # pods reach the API as `kubernetes.default.svc` (in_cluster.py)
SERVER_IPS = ("127.0.0.1", "::1", SERVICE_IP)
CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        # create_default_context(CLIENT_AUTH) would also load the system CA bundle (~10-25 ms
        # on the way to the API answering) to verify client certificates, which are not asked for
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.server_cert, self.server_key)
        return ctx


def ensure_pki(state: Path) -> Pki:
    """The state dir's CA and serving certificate, made or renewed as needed."""
    d = state / "pki"
    d.mkdir(mode=0o700, exist_ok=True)
    pki = Pki(d / "ca.crt", d / "server.crt", d / "server.key")
    if not (d / "ca.key").exists() or not pki.ca_cert.exists():
        _make_ca(d)
        _make_server(d)
    elif not _server_ok(pki.server_cert):
        _make_server(d)
    return pki


@lru_cache(maxsize=8)
def client_context(ca_file: str) -> ssl.SSLContext:
    """A client TLS context that trusts only this cluster's CA (cached per file)."""
    return ssl.create_default_context(cafile=ca_file)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _make_ca(d: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubedeck-ca")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write(d / "ca.key", _key_pem(key), 0o600)
    _write(d / "ca.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _make_server(d: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key = serialization.load_pem_private_key((d / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    sans = [x509.DNSName(n) for n in SERVER_NAMES] + [x509.IPAddress(ipaddress.ip_address(i)) for i in SERVER_IPS]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubedeck-apiserver")]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    _write(d / "server.key", _key_pem(key), 0o600)
    _write(d / "server.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _server_ok(path: Path) -> bool:
    """Whether the serving certificate is still good for a while and names our addresses.
    Read with the stdlib's decoder, so a normal start does not import `cryptography`."""
    try:
        info = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]
    except (OSError, ssl.SSLError, AttributeError):
        return False
    end = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(info["notAfter"]), dt.timezone.utc)
    if end - dt.datetime.now(dt.timezone.utc) < RENEW_BEFORE:
        return False
    names = {v for _, v in info.get("subjectAltName", ())}
    want = set(SERVER_NAMES) | {"127.0.0.1", "0:0:0:0:0:0:0:1", SERVICE_IP}
    return want <= names
