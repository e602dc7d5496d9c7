"""
BAIT on a neural network (skorch)
=================================

A small PyTorch MLP, wrapped in a skorch ``NeuralNetClassifier``, learns scikit-learn's
handwritten digits from a few labels. Each round the net is trained on the labeled set,
then BAIT picks 20 images of the pool to label next, from the net's last layer: the input
of its last ``torch.nn.Linear`` (captured with a forward hook, plus the constant feature
of the layer's bias) and its predicted probabilities. Random picks are the baseline.

The trained net is handed to the sampler with ``prefit=True``: cloning a skorch net does
not keep what it learned. Selection runs wherever the net lives (``device="auto"``).
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

from skbait import BaitSampler

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)  # skorch feeds arrays to torch as they are
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)


class MLP(torch.nn.Module):
    """64 pixels -> 64 hidden units -> 10 logits, initialised from its own seed."""

    def __init__(self, n_hidden=64, seed=0):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(64, n_hidden), torch.nn.ReLU())
        self.head = torch.nn.Linear(n_hidden, 10)
        generator = torch.Generator().manual_seed(seed)
        for layer in (self.body[0], self.head):
            torch.nn.init.kaiming_uniform_(layer.weight, a=5**0.5, generator=generator)
            torch.nn.init.zeros_(layer.bias)

    def forward(self, X):
        return self.head(self.body(X))


net = NeuralNetClassifier(
    MLP,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.01,
    max_epochs=30,
    batch_size=64,
    train_split=None,  # the labeled set is too small to hold out a validation split
    device="cuda" if torch.cuda.is_available() else "cpu",
    verbose=0,
)

# %%
# Active learning rounds
# ----------------------
# Both strategies start from the same 20 labels and label 20 more per round.

rng = np.random.default_rng(0)
start = rng.choice(len(X_train), size=20, replace=False)
n_rounds, batch = 6, 20
curves = {}

for name in ["bait", "random"]:
    labeled = start.copy()
    pool = np.setdiff1d(np.arange(len(X_train)), labeled)
    curves[name] = []
    for round_ in range(n_rounds + 1):
        model = clone(net).fit(X_train[labeled], y_train[labeled])
        accuracy = model.score(X_test, y_test)
        curves[name].append((len(labeled), accuracy))
        print(f"{name:6s} round {round_}: {len(labeled):3d} labels, accuracy {accuracy:.3f}")
        if round_ == n_rounds:
            break
        if name == "bait":
            sampler = BaitSampler(model, prefit=True).fit(X_train[labeled], y_train[labeled])
            picks = sampler.select(X_train[pool], batch)
        else:
            picks = rng.choice(len(pool), size=batch, replace=False)
        labeled = np.concatenate([labeled, pool[picks]])
        pool = np.delete(pool, picks)

# %%
# Test accuracy against the number of labels
# ------------------------------------------

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, curve in curves.items():
    n_labels, accuracy = zip(*curve)
    ax.plot(n_labels, accuracy, marker="o", label=name)
ax.set_xlabel("labeled images")
ax.set_ylabel("test accuracy")
ax.legend()
fig.tight_layout()
plt.show()
