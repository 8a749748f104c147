"""Median-frequency class balancing (Eigen & Fergus 2015; SegNet, Badrinarayanan et al. 2017).

``alpha_c = median(freq) / freq_c``, with ``freq`` the training split's class frequency
(``seglightning.data.statistics.class_frequency``, computed once and cached by the datamodule's
``class_frequency``); ``wce`` turns it into its ``class_weight``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor


def median_frequency_weights(frequency: Iterable[float] | np.ndarray | Tensor) -> Tensor:
    """``alpha_c = median(freq) / freq_c`` (float32 [C]).

    The median is taken over the classes that occur (``freq_c > 0``); a class that never occurs in
    the training split gets weight 0 (it is never a target, so only label smoothing would see it).
    """
    freq = torch.as_tensor(np.asarray(frequency, dtype=np.float64))
    present = freq > 0
    if not present.any():
        raise ValueError("median-frequency weights need at least one class with a non-zero frequency")
    # numpy's median (mean of the two middle values for an even count), as in SegNet
    median = float(np.median(freq[present].numpy()))
    weights = torch.where(present, median / torch.where(present, freq, torch.ones_like(freq)), 0.0)
    return weights.float()
