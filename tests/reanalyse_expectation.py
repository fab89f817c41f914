"""The stored expectation of `test_reanalyse.test_reanalyse_off_is_bit_identical`: a digest of
three tiny training iterations (parameters, optimizer state, losses).

It imports only what existed before reanalyse, so the expectation is computed by the code path
without it. Regenerate (on CPU) from a checkout of that code, e.g. commit c410cb3:

    PYTHONPATH=<old checkout> python tests/reanalyse_expectation.py \
        > tests/data/reanalyse_off_tiny.json
"""

from __future__ import annotations

import hashlib
import json
import platform

import jax
import numpy as np

from alphago_jax.config import make_config
from alphago_jax.trainer import make_train

# tests/test_train.py's tiny 5x5 run (the same compiled iteration, so the XLA cache shares it).
TINY = [
    "size=5", "blocks=1", "channels=8", "num_simulations=2", "max_num_considered_actions=2",
    "fast_simulations=2", "selfplay_batch=4", "selfplay_steps=4", "max_moves=6",
    "temperature_moves=2", "buffer_capacity=48", "min_buffer=8", "train_batch=16",
    "sgd_steps=1", "eval_games=2", "eval_simulations=2", "wandb=false", "iterations=4",
]


def expectation(overrides: tuple[str, ...] = ()) -> dict:
    """{'digest', 'losses', 'trained', 'jax', 'machine'} of 3 iterations from key 0."""
    trainer = make_train(make_config("default", TINY + list(overrides)))
    carry = trainer.init(jax.random.key(0))
    losses, trained = [], []
    for i in range(3):
        carry, m = trainer.iteration(carry, jax.random.fold_in(jax.random.key(1), i))
        losses.append(float(m["loss"]))
        trained.append(int(m["trained"]))
    h = hashlib.sha256()
    for x in jax.tree.leaves((carry.train.params, carry.train.opt_state)):
        h.update(np.asarray(x).tobytes())
    return {"digest": h.hexdigest(), "losses": losses, "trained": trained,
            "jax": jax.__version__, "machine": f"{jax.default_backend()} {platform.machine()}"}


if __name__ == "__main__":
    print(json.dumps(expectation(), indent=2))
