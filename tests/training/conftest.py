"""Fixtures of the training tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import lightning as L
import pytest

from seglightning.run import prepare as prepare_mod


@pytest.fixture
def with_callback() -> Callable[[L.Callback], AbstractContextManager[None]]:
    """``with with_callback(cb): train(...)``: runs ``cb`` first, besides the configured callbacks."""

    @contextmanager
    def added(callback: L.Callback) -> Iterator[None]:
        original = prepare_mod.build_callbacks

        def build(*args, **kwargs):
            callbacks, history, checkpoint = original(*args, **kwargs)
            return [callback, *callbacks], history, checkpoint

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(prepare_mod, "build_callbacks", build)
            yield

    return added
