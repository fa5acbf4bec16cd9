"""Signed proof manifests (issue 10): ``iabp prove --sign-key`` and ``iabp audit verify --key``.

The hashes of ``manifest.json`` show that the files agree with each other; only the
signature, checked with the auditor's own copy of the public key, shows who made them.
A rewritten ``results.json`` with a recomputed ``manifest.json`` passes every hash check
and fails ``audit verify --key``.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from iabp.keys import generate_key, key_id, load_private_key, load_public_key
from iabp.proofs.artifacts import check_artifact_target, write_manifest
from iabp.proofs.audit import JSON_FORMAT, JSON_VERSION, verify
from iabp.proofs.cli import main as prove_main
from iabp.proofs.recheck import QueryCheck
from iabp.proofs.report.cli import audit_main
from iabp.proofs.signing import SIG_DOMAIN, SIGNATURE, sign_manifest
from iabp.spec.iabp import iabp_spec

FAST = "P-STANDBY-DEFLATED"  # a property of the real spec that proves in well under 1 s
_SOLVED: dict[str, QueryCheck] = {}  # z3/cvc5 verdicts by query sha256, for the API calls


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The prover's private key and the auditor's copy of its public key."""
    private = tmp_path_factory.mktemp("keys") / "auditor.key"
    generate_key(private)
    return private, Path(f"{private}.pub")


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    """One property proved and signed by the command line, as the README does it."""
    out = tmp_path_factory.mktemp("signed") / "proof-artifacts"
    assert prove_main(["--property", FAST, "--out", str(out), "--sign-key", str(keys[0])]) == 0
    return out


@pytest.fixture()
def signed(signed_run: Path, tmp_path: Path) -> Path:
    """A private copy of the signed run (free to tamper with)."""
    return Path(shutil.copytree(signed_run, tmp_path / "art"))


def _audit(art: Path, *extra: str) -> int:
    return audit_main(["verify", str(art), *extra])


def test_an_untouched_signed_run_verifies_with_the_auditors_key(
        signed: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads((signed / SIGNATURE).read_text())
    assert doc["key_id"] == key_id(load_public_key(keys[1]))
    assert _audit(signed, "--key", str(keys[1])) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"PASS           {SIGNATURE}  Ed25519 signature by {doc['key_id']}")
    assert "FAIL" not in out and "NOT CHECKED" not in out


def test_a_rewritten_results_and_manifest_pair_passes_the_hashes_but_not_the_key(
        signed: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The forger says the property guards no hazard and means something else, and
    recomputes every hash with our own manifest writer: nothing but the signature shows it."""
    results = json.loads((signed / "results.json").read_text())
    (entry,) = results["results"]
    entry["hazards"], entry["plain"] = [], "Nothing that matters."
    (signed / "results.json").write_text(json.dumps(results, indent=1))
    write_manifest(signed, iabp_spec())
    assert verify(signed, cache=_SOLVED).ok  # every hash and answer agrees: a forgery
    keyed = verify(signed, cache=_SOLVED, public_key=load_public_key(keys[1]))
    assert not keyed.ok
    assert [(x.subject, x.kind) for x in keyed.lines if not x.ok] == [(SIGNATURE, "SIGNATURE")]
    assert _audit(signed, "--key", str(keys[1])) == 1
    out = capsys.readouterr().out
    assert "FAIL SIGNATURE manifest.json.sig  does not verify with the given key" in out
    assert "manifest.json was changed after it was signed" in out


def test_one_changed_byte_of_the_manifest_fails_even_when_it_changes_no_hash(
        signed: Path, keys: tuple[Path, Path]) -> None:
    (signed / "manifest.json").write_bytes((signed / "manifest.json").read_bytes() + b" ")
    report = verify(signed, cache=_SOLVED, public_key=load_public_key(keys[1]))
    assert report.named("SIGNATURE") == [SIGNATURE]
    assert [x for x in report.lines if not x.ok and x.kind != "SIGNATURE"] == []


def test_another_key_an_altered_signature_and_an_unsigned_directory_fail(
        signed: Path, keys: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.key"
    generate_key(other)
    assert _audit(signed, "--key", f"{other}.pub") == 1
    signer = key_id(load_public_key(keys[1]))
    assert f"signed by key {signer}, not by the auditor's key" in capsys.readouterr().out
    doc = json.loads((signed / SIGNATURE).read_text())
    for forged in (doc["signature"].upper(), ("0" if doc["signature"][0] != "0" else "1")
                   + doc["signature"][1:]):
        (signed / SIGNATURE).write_text(json.dumps({**doc, "signature": forged}))
        assert _audit(signed, "--key", str(keys[1])) == 1
        assert "the signature was forged or altered" in capsys.readouterr().out
    (signed / SIGNATURE).unlink()
    assert _audit(signed, "--key", str(keys[1])) == 1
    out = capsys.readouterr().out
    assert "FAIL SIGNATURE manifest.json.sig  no manifest.json.sig: the manifest is not signed" \
        in out


def test_without_a_key_verify_says_the_manifest_is_not_authenticated(
        signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _audit(signed) == 0  # as before: the hashes and the answers hold
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith(f"NOT CHECKED    {SIGNATURE}  manifest.json signed by ed25519:")
    assert "NOT checked" in out[-2] and "--key PUBKEY" in out[-2]
    assert out[-1].startswith(f"audit verify {signed}: PASS")
    (signed / SIGNATURE).unlink()
    assert _audit(signed) == 0
    assert "manifest.json unsigned: hashes only" in capsys.readouterr().out


def test_json_output_holds_every_line_and_the_verdict(
        signed: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert _audit(signed, "--key", str(keys[1]), "--json") == 0
    doc = json.loads(capsys.readouterr().out)  # stdout is the document and nothing else
    assert (doc["format"], doc["version"]) == (JSON_FORMAT, JSON_VERSION)
    assert doc["ok"] and doc["authenticated"] and doc["unchecked"] is None
    report = verify(signed, cache=_SOLVED, public_key=load_public_key(keys[1]))
    assert [(x["subject"], x["ok"], x["kind"]) for x in doc["lines"]] == [
        (x.subject, x.ok, x.kind) for x in report.lines]  # the details hold solver times
    assert doc["lines"][0]["detail"] == report.lines[0].detail
    assert doc["queries_resolved"] == len(list(signed.rglob("*.smt2"))) > 0
    (signed / SIGNATURE).unlink()
    assert _audit(signed, "--key", str(keys[1]), "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert not doc["ok"] and not doc["authenticated"]
    assert [x["kind"] for x in doc["lines"] if not x["ok"]] == ["SIGNATURE"]
    assert _audit(signed, "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and not doc["authenticated"] and "unsigned" in doc["unchecked"]


def test_the_signature_is_over_the_domain_tag_and_the_manifests_exact_bytes(
        signed: Path, keys: tuple[Path, Path]) -> None:
    """What the module docstring tells an auditor to check with openssl."""
    doc = json.loads((signed / SIGNATURE).read_text())
    message = SIG_DOMAIN + (signed / "manifest.json").read_bytes()
    load_public_key(keys[1]).verify(bytes.fromhex(doc["signature"]), message)  # no raise


def test_a_signed_directory_is_a_previous_run_a_new_one_replaces_whole(
        signed: Path, keys: tuple[Path, Path]) -> None:
    assert check_artifact_target(signed) == f"replacing the previous artifacts in {signed}"
    assert prove_main(["--property", FAST, "--out", str(signed)]) == 0  # unsigned this time
    assert not (signed / SIGNATURE).exists()


def test_sign_manifest_signs_what_is_on_disk_and_re_signing_repairs_it(
        signed: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    (signed / "manifest.json").write_bytes((signed / "manifest.json").read_bytes() + b"\n")
    assert _audit(signed, "--key", str(keys[1])) == 1
    sign_manifest(signed, load_private_key(keys[0]))  # whoever holds the key can sign
    assert _audit(signed, "--key", str(keys[1])) == 0
    capsys.readouterr()


def test_audit_keygen_writes_the_pair_prove_signs_with(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "auditor.key"
    assert audit_main(["keygen", str(key)]) == 0
    out = capsys.readouterr().out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert f"{key_id(load_public_key(f'{key}.pub'))}; for iabp audit verify --key" in out
    assert audit_main(["keygen", str(key)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists: refusing to overwrite" in err[0]


@pytest.mark.parametrize("argv", [
    ["--sign-key", "/no/such.key"],
    ["--sign-key", "{pub}"],  # a public key cannot sign
    ["--sign-key", "{key}", "--no-artifacts"],
])
def test_prove_refuses_an_unusable_signing_key_before_proving(
        argv: list[str], keys: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(key=keys[0], pub=keys[1]) for a in argv]
    assert prove_main(["--property", FAST, "--out", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr()
    assert len(err.err.strip().splitlines()) == 1 and "Traceback" not in err.err
    assert "Proving" not in err.out and not (tmp_path / "out").exists()


def test_verify_refuses_an_unreadable_public_key_with_exit_2(
        signed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "junk.pub").write_text("not a key\n")
    assert _audit(signed, "--key", str(tmp_path / "junk.pub")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("iabp audit: ")
