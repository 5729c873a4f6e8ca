"""Detached CMS (PKCS#7) signatures of export manifests: made with `cryptography`, checked by `openssl`.

Signing reads the certificate, key and chain from the PKCS#12 file the justice office was
given, in memory (the key is never written to disk). Checking runs the ``openssl`` binary,
the same tool the national side uses (``openssl cms -verify``); this is the only module that
calls it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import BadInput, MissingDependency

OPENSSL_HINT = "cài openssl: sudo apt-get install -y openssl"


@dataclass(frozen=True)
class Signer:
    """What signs: the certificate's subject is shown to the user and put in the manifest."""

    subject: str
    key: object
    certificate: object
    chain: tuple

    def sign(self, content: bytes) -> bytes:
        """A detached CMS signature (DER) of ``content``, SHA-256, signer certificate included."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.serialization import Encoding
        from cryptography.hazmat.primitives.serialization import pkcs7

        builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(
            self.certificate, self.key, hashes.SHA256())
        for cert in self.chain:
            builder = builder.add_certificate(cert)
        return builder.sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature,
                                           pkcs7.PKCS7Options.Binary])


def load_signer(p12: Path, password: str | None) -> Signer:
    """The key and certificate of a PKCS#12 file; a wrong password or file is one line.

    >>> load_signer(Path("so-tu-phap.p12"), "mật khẩu").subject  # doctest: +SKIP
    'CN=Sở Tư pháp Nghệ An,O=...'
    """
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        data = p12.read_bytes()
    except OSError as exc:
        raise BadInput(f"{p12.name}: không đọc được tệp chứng thư ({exc.strerror})") from exc
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(
            data, password.encode("utf-8") if password else None)
    except ValueError:
        raise BadInput(f"{p12.name}: sai mật khẩu hoặc không phải tệp PKCS#12 (.p12/.pfx)") from None
    if key is None or cert is None:
        raise BadInput(f"{p12.name}: tệp PKCS#12 không có khóa bí mật và chứng thư để ký")
    return Signer(cert.subject.rfc4514_string(), key, cert, tuple(chain or ()))


def _openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        raise MissingDependency("Thiếu chương trình openssl", hint=OPENSSL_HINT)
    return path


def verify_signature(content: Path, signature: Path, *, ca_file: Path | None = None) -> tuple[bool, str]:
    """``openssl cms -verify`` of a detached DER signature: (valid, openssl's last line).

    Without ``ca_file`` only the signature over the content is checked (``-noverify``), not
    who issued the signer's certificate.
    """
    with tempfile.TemporaryDirectory(prefix="hotich-verify-") as tmp:
        args = [_openssl(), "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
                "-content", str(content), "-out", str(Path(tmp) / "content")]
        args += ["-CAfile", str(ca_file)] if ca_file else ["-noverify"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return done.returncode == 0, lines[-1] if lines else ""
