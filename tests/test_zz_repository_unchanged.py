"""Runs last (file order): no test may create or change a file of the repository."""

import pytest
from conftest import STATE_AT_START, repository_state


def test_suite_left_the_repository_unchanged():
    if STATE_AT_START is None:
        pytest.skip("not a git checkout")
    now = repository_state()
    added = sorted(set(now) - set(STATE_AT_START))
    removed = sorted(set(STATE_AT_START) - set(now))
    assert not added and not removed, f"the suite changed the repository: {added + removed}"
