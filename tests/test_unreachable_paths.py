"""Every command refuses a path below a folder it may not search with one clear line.

``Path.exists`` and ``Path.is_dir`` raise (they do not answer False) when a parent
folder may not be searched; before this was handled, ``iabp check`` and the other
commands' path checks ended in a traceback there. Run without root's powers (root may
search any folder): see :mod:`tests.unprivileged`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from iabp.monitor.cli import monitor_main
from iabp.monitor.log_cli import log_main
from iabp.proofs.cli import main as prove_main
from iabp.sim.cli import simulate_main
from tests.unprivileged import open_and_locked_folders, run_unprivileged

CASES: list[tuple[str, Callable[[list[str]], int], list[str], str]] = [
    ("monitor --log", monitor_main, ["loop://", "--log", "{locked}/audit.jsonl"], "--log"),
    ("log plot --out", log_main, ["plot", "{base}/none.jsonl", "--out", "{locked}/figs"],
     "--out"),
    ("simulate --plot", simulate_main, ["--plot", "{locked}/run.png"], "--plot"),
    ("prove --junit", prove_main, ["--no-artifacts", "--junit", "{locked}/junit.xml"],
     "--junit"),
    ("prove --emit-tests", prove_main, ["--no-artifacts", "--emit-tests", "{locked}/cex"],
     "--emit-tests"),
]


@pytest.mark.parametrize("name,main,argv,option", CASES, ids=[c[0] for c in CASES])
def test_a_path_below_a_folder_that_may_not_be_searched_is_one_clear_line(
        name: str, main: Callable[[list[str]], int], argv: list[str], option: str) -> None:
    with open_and_locked_folders() as (base, locked):
        args = [a.format(base=base, locked=locked) for a in argv]
        status, err = run_unprivileged(main, args)
    assert status == 2, err
    assert option in err and "Traceback" not in err and "raised" not in err, err
    assert err.count("\n") == 1, err
