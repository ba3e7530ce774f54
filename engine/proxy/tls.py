"""TLS for the Ingress HTTPS listener: certificates from `kubernetes.io/tls` Secrets, chosen
by SNI.

One listening SSLContext carries `sni_callback`; the callback swaps in the per-host
context (exact host, then the `*.suffix` wildcard entry), else keeps the default context,
which holds a self-signed certificate generated at start (`cryptography`). Contexts are
cached by (namespace, secret, resourceVersion), so a Secret edit takes effect on the next
handshake and an unchanged Secret costs nothing on re-evaluation.

`CertStore.update()` returns one problem per Ingress TLS entry that cannot be served
(Secret missing, wrong type, missing keys, PEM that does not load) so the caller can
record a Warning Event; those hosts get the default certificate.
"""

from __future__ import annotations

import base64
import datetime
import os
import ssl
import tempfile

TLS_TYPE = "kubernetes.io/tls"


def self_signed(common_name: str = "kubedeck-ingress-default") -> tuple[bytes, bytes]:
    """A fresh self-signed certificate and key, PEM encoded."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kubedeck")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A server SSLContext from PEM bytes; raises ssl.SSLError / ValueError when they do not load."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    # load_cert_chain reads files only: a private temp dir, removed at once
    with tempfile.TemporaryDirectory(prefix="kubedeck-tls-") as d:
        cert_path, key_path = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        for path, data in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


def secret_pem(secret: dict | None) -> tuple[bytes, bytes]:
    """(cert, key) PEM from a Secret; raises ValueError naming what is wrong."""
    if secret is None:
        raise ValueError("not found")
    if secret.get("type") not in (TLS_TYPE, None, "Opaque"):
        raise ValueError(f"has type {secret.get('type')}, want {TLS_TYPE}")
    data, string = secret.get("data") or {}, secret.get("stringData") or {}
    out = []
    for k in ("tls.crt", "tls.key"):
        if k in data:
            try:
                out.append(base64.b64decode(data[k], validate=False))
            except (ValueError, TypeError):
                raise ValueError(f"{k} is not base64") from None
        elif k in string:
            out.append(string[k].encode())
        else:
            raise ValueError(f"has no {k}")
    return out[0], out[1]


class CertStore:
    def __init__(self) -> None:
        cert, key = self_signed()
        self.default_pem = (cert, key)  # for the nginx data path, which reads files
        self.default = server_context(cert, key)
        self.default.sni_callback = self._sni
        self.by_host: dict[str, ssl.SSLContext] = {}
        self.pems: dict[str, tuple[bytes, bytes]] = {}  # host -> the (cert, key) PEM of by_host's context
        self._cache: dict[tuple[str, str, str], tuple[ssl.SSLContext, tuple[bytes, bytes]] | str] = {}

    def _sni(self, sslobj: ssl.SSLObject, server_name: str | None, _ctx) -> None:
        if not server_name:
            return None
        name = server_name.lower()
        ctx = self.by_host.get(name)
        if ctx is None:
            dot = name.find(".")
            if dot > 0:
                ctx = self.by_host.get("*" + name[dot:])
        if ctx is not None:
            sslobj.context = ctx
        return None

    def update(self, wanted: dict[str, tuple[str, str, tuple[str, str]]], get_secret) -> list[tuple[tuple[str, str], str]]:
        """Point each host at its Secret's context. Returns [(ingress (ns, name), problem)]."""
        by_host: dict[str, ssl.SSLContext] = {}
        pems: dict[str, tuple[bytes, bytes]] = {}
        problems: dict[tuple[tuple[str, str], str], None] = {}
        cache: dict = {}
        for host, (ns, name, ing) in wanted.items():
            secret = get_secret(ns, name)
            rv = (secret or {}).get("metadata", {}).get("resourceVersion", "")
            key = (ns, name, rv)
            got = cache.get(key) or self._cache.get(key)
            if got is None:
                try:
                    pem = secret_pem(secret)
                    ctx = server_context(*pem)
                    ctx.sni_callback = self._sni
                    got = (ctx, pem)
                except (ValueError, ssl.SSLError, OSError) as e:
                    reason = e.args[-1] if isinstance(e, ssl.SSLError) and e.args else e
                    got = f"TLS Secret {ns}/{name} {reason}" if isinstance(e, ValueError) else \
                        f"TLS Secret {ns}/{name} does not load: {reason}"
            cache[key] = got
            if isinstance(got, str):
                problems[(ing, got + f"; serving the default self-signed certificate for {host}")] = None
            else:
                by_host[host], pems[host] = got
        self._cache = cache
        self.by_host, self.pems = by_host, pems
        return list(problems)
