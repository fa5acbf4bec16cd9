"""Signed proof manifests: evidence an auditor can trust without trusting whoever handed it over.

``manifest.json`` holds the SHA-256 of every artifact, but anyone who can rewrite the
directory can rewrite a query, ``results.json`` AND the manifest consistently: the hashes
then agree with each other and prove nothing about who made them. ``iabp prove --sign-key
KEYFILE`` therefore signs the manifest with an Ed25519 private key (``iabp audit keygen``,
:mod:`iabp.keys`; a monitor key from ``iabp log keygen`` works too) and writes the
signature beside it, in ``manifest.json.sig``::

    {"algorithm": "ed25519",
     "format": "iabp-proof-signature/1",
     "key_id": "ed25519:<16 hex digits>",      the signer's key (iabp.keys.key_id)
     "manifest_sha256": "<64 hex digits>",     SHA-256 of manifest.json's bytes when signed
     "signature": "<128 hex digits>",          Ed25519 signature, lowercase hex
     "signed_file": "manifest.json"}

The signed message is ``SIG_DOMAIN`` (the 22 bytes ``iabp-proof-manifest/1`` and a
newline, so a manifest signature can never pass for an audit-log record's, or the
reverse, when one key signs both) followed by the exact bytes of ``manifest.json``:
changing any byte of the manifest, and so any file's hash in it, breaks the signature.
``key_id`` and ``manifest_sha256`` only make the failure messages precise; the evidence
is the signature checked with the auditor's own copy of the public key
(``iabp audit verify DIR --key PUBKEY``). Checked without our code::

    jq -r .signature manifest.json.sig | xxd -r -p > sig.bin
    (printf 'iabp-proof-manifest/1\\n'; cat manifest.json) > signed.bin
    openssl pkeyutl -verify -pubin -inkey proofs.key.pub -rawin -in signed.bin -sigfile sig.bin

What a signature does not give: whoever holds the private key can sign anything (keep it
off the machines the artifacts travel through), and an unsigned directory or one
checked without ``--key`` is authenticated by nothing (``audit verify`` says so).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from iabp.keys import key_id
from iabp.spec.errors import ArtifactError

MANIFEST: Final = "manifest.json"
SIGNATURE: Final = MANIFEST + ".sig"
SIGNATURE_FORMAT: Final = "iabp-proof-signature/1"
SIG_DOMAIN: Final = b"iabp-proof-manifest/1\n"


def signed_message(manifest_bytes: bytes) -> bytes:
    """What the Ed25519 key signs: the domain tag, then the manifest's exact bytes."""
    return SIG_DOMAIN + manifest_bytes


def sign_manifest(art_dir: Path, key: Ed25519PrivateKey) -> Path:
    """Sign ``art_dir/manifest.json`` as it is on disk; write and return ``manifest.json.sig``.

    Call it after the manifest is final (the signature covers its bytes, the manifest
    covers every other file's)."""
    try:
        data = (art_dir / MANIFEST).read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot sign {art_dir / MANIFEST}: {exc.strerror or exc}") from exc
    doc = {"format": SIGNATURE_FORMAT, "algorithm": "ed25519",
           "key_id": key_id(key.public_key()), "signed_file": MANIFEST,
           "manifest_sha256": hashlib.sha256(data).hexdigest(),
           "signature": key.sign(signed_message(data)).hex()}
    path = art_dir / SIGNATURE
    try:
        path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="ascii")
    except OSError as exc:
        raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def _read_signature(art_dir: Path) -> dict[str, Any] | str:
    """The signature document, or why there is none we can read."""
    path = art_dir / SIGNATURE
    if not path.is_file():
        return f"no {SIGNATURE}: the manifest is not signed (prove with --sign-key KEYFILE)"
    try:
        doc = json.loads(path.read_text(encoding="ascii"))
    except (OSError, ValueError) as exc:
        return f"{SIGNATURE} is unreadable ({exc})"
    if not isinstance(doc, dict) or doc.get("format") != SIGNATURE_FORMAT \
            or doc.get("algorithm") != "ed25519" or not isinstance(doc.get("signature"), str):
        return f"{SIGNATURE} is not an {SIGNATURE_FORMAT} Ed25519 signature"
    return doc


def check_signature(art_dir: Path, public_key: Ed25519PublicKey) -> tuple[bool, str]:
    """Whether ``manifest.json`` is signed by ``public_key`` exactly as it is on disk, and
    a sentence saying what was found (which key signed, what changed)."""
    given = key_id(public_key)
    doc = _read_signature(art_dir)
    if isinstance(doc, str):
        return False, doc
    try:
        data = (art_dir / MANIFEST).read_bytes()
    except OSError:
        return False, f"{MANIFEST} is missing or unreadable: nothing was signed"
    text = doc["signature"]
    try:
        sig = bytes.fromhex(text)
        if sig.hex() != text:  # one spelling only, as in the audit log
            raise ValueError("not lowercase hex")
        public_key.verify(sig, signed_message(data))
    except (InvalidSignature, ValueError):
        return False, f"does not verify with the given key {given}: " + _why(doc, data, given)
    return True, (f"Ed25519 signature by {given} verified over {MANIFEST}'s exact bytes "
                  "(so over every file hash it lists)")


def _why(doc: dict[str, Any], data: bytes, given: str) -> str:
    named = doc.get("key_id")
    if isinstance(named, str) and named != given:
        return f"signed by key {named}, not by the auditor's key"
    if doc.get("manifest_sha256") != hashlib.sha256(data).hexdigest():
        return f"{MANIFEST} was changed after it was signed"
    return "the signature was forged or altered"


def unchecked_note(art_dir: Path) -> str:
    """Without the auditor's key: one sentence saying the manifest is not authenticated
    (unsigned, or signed by a key nobody checked) and what the hash checks then prove."""
    doc = _read_signature(art_dir)
    if isinstance(doc, str):
        found = "unsigned" if not (art_dir / SIGNATURE).exists() else doc
    else:
        found = f"signed by {doc.get('key_id', 'an unnamed key')}, NOT checked"
    return (f"{MANIFEST} {found}: hashes only, a consistent rewrite of files and manifest "
            "passes them; pass --key PUBKEY to authenticate it")
