"""Checks of the arrays a user passes in place of a model (see :mod:`skbait._arrays`):
numpy arrays or torch tensors, turned into float64 tensors on the chosen device."""

import numpy as np
import torch

from ._device import resolve_device
from ._validation import check_probabilities

#: What to do when "probabilities" are not probabilities.
PROBA_HINT = ("Pass the model's softmax (or sigmoid) outputs, not its logits: e.g. "
              "torch.softmax(logits, dim=1).")


def array_device(device, reference):
    """``device`` resolved; ``"auto"`` follows ``reference`` when it is a torch tensor."""
    if device == "auto" and isinstance(reference, torch.Tensor):
        return reference.device
    return resolve_device(device)


def as_tensor(values, name, device):
    """``values`` as a float64 tensor on ``device``; inputs are never modified."""
    if isinstance(values, torch.Tensor):
        return values.detach().to(device=device, dtype=torch.float64)
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got an array of dtype {array.dtype}.")
    if not array.flags.writeable:  # torch only wraps writeable memory without a warning
        array = array.copy()
    return torch.as_tensor(array, dtype=torch.float64, device=device)


def check_features(values, name, device, *, width=None):
    """A finite 2-D float64 tensor (of ``width`` columns, if given) on ``device``."""
    h = as_tensor(values, name, device)
    if h.dim() != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape "
                         f"{tuple(h.shape)}.")
    if width is not None and h.shape[1] != width:
        raise ValueError(f"{name} has {h.shape[1]} columns but features has {width}: both "
                         "must be the same representation.")
    if not bool(torch.isfinite(h).all()):
        raise ValueError(f"{name} contains NaN or infinity.")
    return h


def check_proba(values, name, n_rows, device):
    """Class probabilities (2-D) or a sigmoid head's positive-class probability (1-D)."""
    p = as_tensor(values, name, device)
    if p.dim() not in (1, 2) or (n_rows is not None and p.shape[0] != n_rows):
        raise ValueError(
            f"{name} has shape {tuple(p.shape)}; it must be ({n_rows or 'n_samples'}, k) "
            "class probabilities or (n_samples,) positive-class probabilities, one row "
            "per row of the features.")
    check_probabilities(as_two_classes(p), PROBA_HINT)
    return p


def check_class_proba(values, name, n_rows, device):
    """Class probabilities, a sigmoid head's as its two classes (as scikit-learn gives)."""
    return as_two_classes(check_proba(values, name, n_rows, device))


def as_two_classes(p):
    """A sigmoid head's positive-class probabilities (n,) as its two classes' (n, 2), as
    scikit-learn's ``predict_proba`` gives them; class probabilities as they are."""
    return torch.stack([1 - p, p], dim=1) if p.dim() == 1 else p
