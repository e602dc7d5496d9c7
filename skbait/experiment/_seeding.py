"""Seeds for a reproducible run: derived from ``random_state``, given to the sampler, the
scored model and torch, without touching any global generator the caller owns."""

import threading
from contextlib import contextmanager

import numpy as np

_SEED_MAX = np.iinfo(np.int32).max


#: Held by a run while it has seeded torch's global generator: threads share it, so runs
#: in threads (joblib's threading backend) take turns instead of mixing their draws.
_TORCH_RNG_LOCK = threading.RLock()


def _seed_nested(estimator, seed, top=True):
    """Set every ``random_state`` parameter of ``estimator`` that is None to ``seed``.

    Nested ones too (``estimator__random_state``, a pipeline step's); the top-level one
    only when ``top``. Returns ``estimator``, changed in place (pass a clone).
    """
    params = estimator.get_params(deep=True)
    unset = {key: seed for key, value in params.items()
             if value is None and (key.endswith("__random_state")
                                   or (top and key == "random_state"))}
    if unset:
        estimator.set_params(**unset)
    return estimator


@contextmanager
def _seeded_torch(seed):
    """Run the body with torch's global generators seeded by ``seed``, restored after.

    The CPU generator, and those of the CUDA devices when torch sees any; runs in
    threads hold a lock, so that they neither mix their draws nor restore each other's
    state.
    """
    import torch  # skbait imports it anyway; here so the module itself does not need it

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if devices:
            torch.cuda.manual_seed_all(seed)
        yield
