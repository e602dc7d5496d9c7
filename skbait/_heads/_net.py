"""The forward hook that reads a skorch net's representation during its own batched pass."""

import numpy as np
import torch


class _NetHook:
    """Collects a skorch net's representation while the net runs forward passes.

    ``embedding=None`` hooks the input of the last ``torch.nn.Linear`` of ``net.module_``
    (in registration order), whose bias, if any, is a last-layer parameter;
    ``embedding="name"`` hooks the output of that submodule, flattened per point. Each
    batch is copied to the CPU as it comes, so device memory does not grow with ``n``.
    """

    def __init__(self, net, embedding):
        modules = dict(net.module_.named_modules())
        if embedding is None:
            linears = [m for m in modules.values() if isinstance(m, torch.nn.Linear)]
            if not linears:
                raise TypeError(
                    f"{type(net.module_).__name__} has no torch.nn.Linear layer to take the "
                    "last layer from; name the representation layer with embedding='name' "
                    "or pass a callable."
                )
            self.module = linears[-1]
            self.where = f"the input of its last torch.nn.Linear ({self.module})"
        elif embedding in modules:
            self.module = modules[embedding]
            self.where = f"the output of submodule {embedding!r}"
        else:
            names = ", ".join(repr(name) for name in list(modules)[1:20])
            raise ValueError(
                f"embedding={embedding!r} is not a submodule of {type(net.module_).__name__}"
                f" (its submodules: {names})."
            )
        self.take_input = embedding is None
        self.has_bias = self.take_input and self.module.bias is not None
        self.batches = []

    def _record(self, module, inputs, output):
        value = inputs[0] if self.take_input else output
        if not isinstance(value, torch.Tensor) or (self.take_input and value.dim() != 2):
            raise ValueError(
                f"The net's representation, {self.where}, is not a 2-D tensor of one row "
                "per point; name another layer with embedding='name' or pass a callable."
            )
        self.batches.append(value.detach().reshape(value.shape[0], -1).to("cpu", torch.float64))

    def __enter__(self):
        self._handle = self.module.register_forward_hook(self._record)
        return self

    def __exit__(self, *exc):
        self._handle.remove()

    def features(self, n_rows):
        """The collected ``(n_rows, d)`` representation, checked to have one row per point."""
        h = torch.cat(self.batches).numpy() if self.batches else np.empty((0, 0))
        if h.shape[0] != n_rows:
            raise ValueError(
                f"The net's representation, {self.where}, produced {h.shape[0]} rows for "
                f"{n_rows} points: that layer is not the net's output layer. Name the "
                "representation layer with embedding='name' or pass a callable."
            )
        return h
