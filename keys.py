"""Ed25519 key files shared by everything that signs evidence: the monitor's audit log
(``iabp log keygen``, ``iabp monitor --key``) and the proof manifest (``iabp audit keygen``,
``iabp prove --sign-key``).

A key pair is two PEM files: the private key (PKCS#8, unencrypted, mode 0600; it stays
with whoever signs: the monitor, or the machine that runs the proofs) and the public key
(SubjectPublicKeyInfo, ``KEYFILE.pub``; it goes to the auditor, who checks signatures
with it). A key is named by :func:`key_id`, a short fingerprint printed beside every
signature, so an auditor sees at once which key signed. One key pair may sign both
audit logs and proof manifests: each signs its own domain-separated message.

This module imports only the standard library, ``cryptography`` and
:mod:`iabp.spec.errors`, so the monitor and the prover share it without importing each
other (tests/test_layers.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import stat
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from iabp.spec.errors import IabpError


class KeyFileError(IabpError):
    """A key file cannot be read, written or is not an Ed25519 key."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short fingerprint of a public key: ``ed25519:`` + 16 hex digits of its SHA-256."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo) text."""
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def generate_key(path: str | os.PathLike[str], public_path: str | os.PathLike[str] | None = None
                 ) -> Ed25519PrivateKey:
    """Make a new Ed25519 key: the private key to ``path`` (PEM, mode 0600, never
    overwritten) and the public key to ``public_path`` (default ``path + ".pub"``)."""
    path = Path(path)
    pub = Path(public_path) if public_path is not None else Path(str(path) + ".pub")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    for p in (path, pub):
        if p.exists():
            raise KeyFileError(f"{p} exists: refusing to overwrite a key file")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror or exc}") from exc
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, private)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        pub.write_text(public_pem(key.public_key()), encoding="ascii")
    except OSError as exc:
        raise KeyFileError(f"cannot write {pub}: {exc.strerror or exc}") from exc
    return key


def add_keygen_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every ``keygen`` subcommand takes: ``KEYFILE`` and ``--public FILE``
    (read by :func:`keygen_command` as ``keyfile`` and ``public``)."""
    parser.add_argument("keyfile", metavar="KEYFILE")
    parser.add_argument("--public", default=None, metavar="FILE",
                        help="where to write the public key (default: KEYFILE.pub)")


def keygen_command(prog: str, keyfile: str, public: str | None, *, private_use: str,
                   public_use: str) -> int:
    """The body of a ``keygen`` subcommand: make the key pair (:func:`generate_key`), say
    where each half went and what it is for (``private_use``, ``public_use``), print the
    public key; 0, or 2 with a one-line error on stderr (e.g. the file exists)."""
    pub = public if public is not None else keyfile + ".pub"
    try:
        key = generate_key(keyfile, pub)
    except KeyFileError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    print(f"private key: {keyfile} (mode 0600; {private_use})")
    print(f"public key:  {pub} ({key_id(key.public_key())}; {public_use})")
    print(public_pem(key.public_key()), end="")
    return 0


def _read_key_file(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {str(path)!r}: {exc.strerror or exc}") from exc


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path`` (as written by :func:`generate_key`)."""
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 private key")
    return key


def private_key_mode_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the private key file's permissions are too open (group or others may read), or None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is readable by others (mode {stat.S_IMODE(mode):04o}); use chmod 600"
    return None


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The Ed25519 public key in ``path``: a PEM public key, or a PEM private key (its
    public half is taken)."""
    data = _read_key_file(path)
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise KeyFileError(f"{path}: not an Ed25519 key")
            return private.public_key()
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: not an Ed25519 public key")
    return key
