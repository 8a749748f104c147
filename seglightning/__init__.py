"""seglightning: compare segmentation losses across architectures and datasets, reproducibly."""

__version__ = "0.1.0"

from .sweeps.naming import register_resolvers as _register_resolvers

_register_resolvers()  # ${seglightning.job_dir:...} in conf/hydra/default.yaml, in every process that resolves it
