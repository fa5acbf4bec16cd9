"""Ed25519 key files (``iabp.keys``): shared by the monitor's audit log and the proof manifest."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from iabp.keys import (
    KeyFileError,
    generate_key,
    key_id,
    keygen_command,
    load_private_key,
    load_public_key,
    private_key_mode_problem,
)


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    path = tmp_path / "monitor.key"
    made = generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert private_key_mode_problem(path) is None
    public = load_public_key(tmp_path / "monitor.key.pub")
    assert key_id(public) == key_id(made.public_key())
    assert key_id(load_public_key(path)) == key_id(public)  # the private file works too
    assert key_id(load_private_key(path).public_key()) == key_id(public)
    with pytest.raises(KeyFileError, match="exists"):
        generate_key(path)
    path.chmod(0o644)
    assert private_key_mode_problem(path) is not None
    (tmp_path / "junk").write_text("not a key")
    with pytest.raises(KeyFileError):
        load_private_key(tmp_path / "junk")
    with pytest.raises(KeyFileError):
        load_public_key(tmp_path / "missing")


def test_keygen_command_says_what_each_half_is_for_and_never_overwrites(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keyfile = str(tmp_path / "k")
    assert keygen_command("iabp x keygen", keyfile, None, private_use="signs",
                          public_use="checks") == 0
    out = capsys.readouterr().out
    public = load_public_key(keyfile + ".pub")
    assert f"private key: {keyfile} (mode 0600; signs)" in out
    assert f"{key_id(public)}; checks" in out and "BEGIN PUBLIC KEY" in out
    assert keygen_command("iabp x keygen", keyfile, None, private_use="", public_use="") == 2
    err = capsys.readouterr().err
    assert err.startswith("iabp x keygen: ") and "exists" in err and err.count("\n") == 1
