"""The host loop over compiled training iterations, with hooks.

`run_iterations` is the one loop every caller uses (the `train` command, tests, experiments,
notebooks): it calls the trainer's compiled iteration, turns the device metrics into host floats
with derived rates, and hands each iteration to the hooks in order. Hooks log, evaluate and
checkpoint; an evaluation hook adds its results to `metrics` before a logging hook sees them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import jax

from alphago_jax.trainer import Carry, Trainer

Hook = Callable[[int, Carry, dict], None]
"""`hook(done, carry, metrics)`: called after iteration `done` (1-based) with the new carry and
the host metrics (a dict it may add to)."""


def iteration_key(base_key: jax.Array, iteration: int) -> jax.Array:
    """The key of 0-based `iteration` (keys 0 and 1 of `base_key` seed init and evaluation)."""
    return jax.random.fold_in(base_key, 2 + iteration)


def host_metrics(trainer: Trainer, metrics: dict, seconds: float) -> dict[str, float]:
    """An iteration's metrics (fetched to the host) as floats, with rates added."""
    cfg = trainer.cfg
    m = {k: float(v) for k, v in metrics.items()}
    moves = cfg.selfplay_batch * cfg.selfplay_steps * len(trainer.sizes)
    games = max(m["games"], 1)
    m.update(
        iteration_s=seconds, moves_per_s=moves / seconds, games_per_s=m["games"] / seconds,
        positions_per_s=m["positions"] / seconds,
        buffer_fill=m["buffer_ready"] / cfg.buffer_capacity,
        black_win_rate=m["black_wins"] / games,
        mean_game_length=m["moves_in_games"] / games,
        false_resign_rate=m["false_resign"] / max(m["no_resign_checked"], 1),
    )
    if trainer.multi:
        for n in trainer.sizes:
            g = max(m[f"games_{n}x{n}"], 1)
            m[f"black_win_rate_{n}x{n}"] = m[f"black_wins_{n}x{n}"] / g
            m[f"mean_game_length_{n}x{n}"] = m[f"moves_in_games_{n}x{n}"] / g
    return m


def run_iterations(trainer: Trainer, carry: Carry, base_key: jax.Array, stop: int,
                   hooks: Sequence[Hook] = ()) -> Carry:
    """Runs iterations `carry.iteration` .. `stop` - 1.

    Args:
      trainer: the run's trainer.
      carry: the state to continue from (donated to the first iteration).
      base_key: the run's key (`jax.random.key(cfg.seed)`); iteration i uses
        `iteration_key(base_key, i)`, so a resumed run replays the same keys.
      stop: the iteration count to reach.
      hooks: called in order after each iteration (see `Hook`).

    Returns:
      The carry after iteration `stop`.
    """
    cfg = trainer.cfg
    for it in range(int(carry.iteration), stop):
        t0 = time.perf_counter()
        step = trainer.bootstrap_iteration if it < cfg.bootstrap_iterations else trainer.iteration
        carry, metrics = step(carry, iteration_key(base_key, it))
        metrics = jax.device_get(metrics)  # waits for the iteration: the time below is real
        metrics = host_metrics(trainer, metrics, time.perf_counter() - t0)
        for hook in hooks:
            hook(it + 1, carry, metrics)
    return carry
