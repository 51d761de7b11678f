"""The verdict map of ``mcdiag all --passive`` on every fixture pair and failure mode, against a golden file.

``tests/golden/verdicts.json`` was written from the code before the layout change (issue 8); a
change to a verdict must show up here as a deliberate edit of that file. The lab's maps (active
checks too) are compared in ``tests/e2e``. Runs through the emulator over HTTPS, as a user's run does.
"""

from __future__ import annotations

import pytest

from tests.checks import test_submariner as S
from tests.conftest import GOLDEN, PAIRS, pair_objects


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_healthy_pairs(emulate, mcdiag, pair):
    _, names, options = PAIRS[pair]
    objs = pair_objects(pair)
    run = mcdiag("all", "--passive", *emulate(objs, **options).args(*names))
    assert run.verdicts() == GOLDEN[f"{pair}/healthy"]


@pytest.mark.parametrize(("case", "mutate", "options"), [(c[0], c[1], c[5]) for c in S.CASES], ids=[c[0] for c in S.CASES])
def test_submariner_failure_modes(emulate, mcdiag, case, mutate, options):
    objs = S.healthy_pair()
    if mutate:
        mutate(objs)
    args: list[str] = []
    for name in S.NAMES:
        kwargs: dict = {"extra_groups": S.CALICO_API} if name in options.get("calico_api", S.NAMES) else {}
        if name in options.get("versions", {}):
            kwargs["version"] = options["versions"][name]
        args += emulate({name: list(S._crds()) + objs[name]}, **kwargs).args()
    run = mcdiag("all", "--passive", *args)
    assert run.verdicts() == GOLDEN[f"submariner/{case}"]
