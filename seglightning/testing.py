"""Test helpers for users' own tests (public): a tiny dataset in each exact on-disk format.

The writers live in :mod:`seglightning.data.fixtures`; this module re-exports its public names::

    from seglightning.testing import write_fixture
    root = write_fixture("cityscapes", "/tmp/cs", seed=0)   # then data=cityscapes data.root=/tmp/cs
"""

from .data.fixtures import *  # noqa: F403
from .data.fixtures import __all__  # noqa: F401
