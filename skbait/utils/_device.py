"""Choice of the torch device on which the selection kernels run."""

import torch


def resolve_device(device, estimator=None):
    """Return the :class:`torch.device` selection should run on.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or str or torch.device
        ``"auto"`` follows the estimator when it lives on a torch device (a skorch
        net's ``device``), else uses CUDA when torch sees it, else the CPU.
    estimator : object, default=None
        Fitted estimator whose ``device`` attribute, if any, ``"auto"`` follows.

    Returns
    -------
    device : torch.device
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        net_device = getattr(estimator, "device", None)
        if isinstance(net_device, (str, torch.device)) and net_device != "auto":
            resolved = torch.device(net_device)
            if resolved.type != "cuda" or torch.cuda.is_available():
                return resolved
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device name.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch sees no CUDA device; "
            "use device='auto' or device='cpu'."
        )
    return resolved
