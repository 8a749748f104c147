"""seglightning: compare segmentation losses across architectures and datasets, reproducibly."""

__version__ = "0.1.0"
