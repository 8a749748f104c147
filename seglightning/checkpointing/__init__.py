"""Long runs that survive the cluster: atomic checkpoint files, ``last.ckpt`` inside an epoch,
stop signals that save and requeue (README, "Reproducibility and resuming")."""

from .atomic_io import AtomicCheckpointIO
from .last_checkpoint import LastCheckpoint, build_last_checkpoint
from .requeue import requeue
from .signals import Interrupted, StopSignals


def trainer_plugins() -> list:
    """Atomic checkpoint writes; under Slurm, Lightning's environment without its own requeue
    handler (seglightning's signal handling is the one mechanism, see :mod:`.requeue`)."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    plugins: list = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return plugins


__all__ = [
    "AtomicCheckpointIO",
    "Interrupted",
    "LastCheckpoint",
    "StopSignals",
    "build_last_checkpoint",
    "requeue",
    "trainer_plugins",
]
