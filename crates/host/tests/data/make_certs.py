"""Writes the test certificates (run once; the outputs are committed).

python3 make_certs.py  ->  rdp_valid.der (2024-01-01 .. 2124-01-01), rdp_expired.der (2020-01-01 .. 2021-01-01)
"""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

for name, start, end in [
    ("rdp_valid.der", datetime.datetime(2024, 1, 1), datetime.datetime(2124, 1, 1)),
    ("rdp_expired.der", datetime.datetime(2020, 1, 1), datetime.datetime(2021, 1, 1)),
]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RESCUED-HOST")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    with open(name, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.DER))
