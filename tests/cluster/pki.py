"""Certificates and keys for the local control plane: one CA, the API server's serving certificate,
client certificates for the admin and the control-plane components, and the service-account key pair.

Everything is written to one folder that lives as long as the test session; nothing here is reused
across sessions.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import oid

# Names the serving certificate is valid for: loopback for the tests, and the in-cluster Service names that
# a client inside a pod would use.
SERVING_DNS_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
SERVING_IPS = ("127.0.0.1", "10.0.0.1")
VALIDITY = datetime.timedelta(days=2)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CertificatePair:
    """Paths of one PEM certificate and its private key."""

    cert: pathlib.Path
    key: pathlib.Path


@dataclasses.dataclass(frozen=True, kw_only=True)
class ControlPlanePki:
    """Every file the processes of the control plane read, by role."""

    ca: CertificatePair
    serving: CertificatePair
    admin: CertificatePair
    controller_manager: CertificatePair
    scheduler: CertificatePair
    service_account_private_key: pathlib.Path
    service_account_public_key: pathlib.Path


def create(*, folder: pathlib.Path) -> ControlPlanePki:
    """Write a CA, the certificates signed by it, and a service-account key pair into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME, "canaryd-test-ca")])
    ca_cert = (
        _builder(subject=ca_name, issuer=ca_name, public_key=ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(is_ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca = _write_pair(folder=folder, stem="ca", cert=ca_cert, key=ca_key)

    # system:masters bypasses RBAC authorisation: the admin and the components run with full rights, so a
    # missing bootstrap role never shows up as a test failure. The tests' own identities get RBAC.
    def client(stem: str, common_name: str) -> CertificatePair:
        return _issue(folder=folder, stem=stem, ca_cert=ca_cert, ca_key=ca_key,
                      subject=_subject(common_name=common_name, organization="system:masters"),
                      usage=oid.ExtendedKeyUsageOID.CLIENT_AUTH, alternative_names=None)

    serving_names = [x509.DNSName(name) for name in SERVING_DNS_NAMES]
    serving_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in SERVING_IPS]
    serving = _issue(folder=folder, stem="apiserver", ca_cert=ca_cert, ca_key=ca_key,
                     subject=_subject(common_name="kube-apiserver", organization=None),
                     usage=oid.ExtendedKeyUsageOID.SERVER_AUTH, alternative_names=serving_names)

    # The API server verifies service-account tokens with the public key; the controller-manager signs
    # the tokens of its service-account token controller with the private one.
    account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path = folder / "service-account.key"
    public_path = folder / "service-account.pub"
    private_path.write_bytes(_private_pem(account_key))
    public_path.write_bytes(account_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    return ControlPlanePki(
        ca=ca,
        serving=serving,
        admin=client("admin", "canaryd-test-admin"),
        controller_manager=client("controller-manager", "system:kube-controller-manager"),
        scheduler=client("scheduler", "system:kube-scheduler"),
        service_account_private_key=private_path,
        service_account_public_key=public_path,
    )


def _issue(*, folder: pathlib.Path, stem: str, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
           subject: x509.Name, usage: x509.ObjectIdentifier,
           alternative_names: list[x509.GeneralName] | None) -> CertificatePair:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject=subject, issuer=ca_cert.subject, public_key=key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(is_ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if alternative_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return _write_pair(folder=folder, stem=stem, cert=cert, key=key)


def _builder(*, subject: x509.Name, issuer: x509.Name,
             public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    # Backdated by a minute so that a certificate is valid at once even if clocks of processes disagree.
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + VALIDITY)
    )


def _key_usage(*, is_ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=not is_ca, data_encipherment=False,
        key_agreement=False, key_cert_sign=is_ca, crl_sign=is_ca, encipher_only=False, decipher_only=False,
    )


def _subject(*, common_name: str, organization: str | None) -> x509.Name:
    attributes = [x509.NameAttribute(oid.NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(oid.NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _private_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_pair(*, folder: pathlib.Path, stem: str, cert: x509.Certificate,
                key: ec.EllipticCurvePrivateKey) -> CertificatePair:
    pair = CertificatePair(cert=folder / f"{stem}.crt", key=folder / f"{stem}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(_private_pem(key))
    pair.key.chmod(0o600)
    return pair
