"""Writes the test certificate (run once; the output is committed).

python3 make_certs.py  ->  ec_san.der: EC P-256, CN=rdp.example signed by CN=Test CA,
SAN rdp.example, *.corp.example, 127.0.0.1, ::1; valid 2025-03-01 12:30:00 .. 2030-03-01 00:00:00 UTC.
"""
import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

key = ec.generate_private_key(ec.SECP256R1())
ca_key = ec.generate_private_key(ec.SECP384R1())
cert = (
    x509.CertificateBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rdp.example")]))
    .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]))
    .public_key(key.public_key())
    .serial_number(0x0A0B0C)
    .not_valid_before(datetime.datetime(2025, 3, 1, 12, 30, 0))
    .not_valid_after(datetime.datetime(2030, 3, 1, 0, 0, 0))
    .add_extension(
        x509.SubjectAlternativeName(
            [
                x509.DNSName("rdp.example"),
                x509.DNSName("*.corp.example"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ]
        ),
        critical=False,
    )
    .sign(ca_key, hashes.SHA384())
)
with open("ec_san.der", "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.DER))
