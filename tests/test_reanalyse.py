"""Tests for reanalyse (alphago_jax.learner.reanalyse, Rules.from_history) and the value-target
options (alphago_jax.learner.loss): rebuilt states equal the played ones, reanalysed targets
equal a fresh search of the original position, reanalyse off leaves an iteration as it was, the
W/D/L targets are as documented, and a tiny run with reanalyse trains and refuses old resumes."""

from __future__ import annotations

import dataclasses
import functools
import shutil

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from settings import network, selfplay_settings

from alphago_jax import cli, runs
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import ConfigError, make_config
from alphago_jax.features.planes import num_planes
from alphago_jax.learner import LossWeights, loss_fn, reanalyse, value_target
from alphago_jax.learner.loss import wdl_from_scalar
from alphago_jax.logging import read_metrics
from alphago_jax.replay import buffer as replay
from alphago_jax.rules.go import Rules
from alphago_jax.search.mcts import run_search, state_features
from alphago_jax.selfplay import selfplay
from alphago_jax.trainer import make_train

SIZE, GAMES, MOVES = 5, 8, 9
# History longer than the games: the stored boards then hold every position of the game, so even
# positional superko is rebuilt exactly and a reanalysis must equal a search of the original.
LONG = Rules(size=SIZE, komi=0.5, superko=True, suicide=False, max_moves=30, history=MOVES + 1)
SIMPLE_KO = Rules(size=SIZE, komi=0.5, superko=False, suicide=True, max_moves=40, history=2)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _random_positions(rules: Rules, moves: int, key) -> chex.ArrayTree:
    """GoState[GAMES * moves]: every position of GAMES random games of `moves` moves, and the
    same positions' games are stacked move by move."""
    games = jax.vmap(lambda _: rules.init())(jnp.arange(GAMES))

    def step(states, k):
        keys = jax.random.split(k, GAMES)
        # Pass now and then, so `passes` and repeated boards in the history are exercised.
        act = jax.vmap(rules.random_action)(states, keys)
        act = jnp.where(jax.random.uniform(k, (GAMES,)) < 0.15, rules.pass_action, act)
        return jax.vmap(rules.step)(states, act), states

    _, seq = jax.lax.scan(step, games, jax.random.split(key, moves))
    return jax.tree.map(lambda x: x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:]), seq)


def _store(rules: Rules, states, history: int) -> replay.ReplayBuffer:
    n = states.to_play.shape[0]
    legal = jax.vmap(rules.legal_mask)(states)[:, : rules.num_points]
    buf = replay.init(rules, n, history, ownership=False)
    policy = jnp.zeros((n, rules.num_actions), jnp.float32)
    return replay.add_positions(buf, states.boards[:, :history], states.to_play, legal, policy,
                                jnp.arange(n, dtype=jnp.int32), None, states.move_count,
                                states.passes)


@pytest.mark.parametrize("rules", [LONG, SIMPLE_KO], ids=["superko-full-history", "simple-ko"])
def test_rebuilt_state_equals_the_original(rules):
    moves = MOVES if rules is LONG else 30
    states = _random_positions(rules, moves, jax.random.key(1))
    buf = _store(rules, states, rules.history)
    n = states.to_play.shape[0]
    rebuilt = jax.jit(lambda b: reanalyse.rebuild_states(rules, b, jnp.arange(n)))(buf)
    for name in ("boards", "to_play", "move_count", "passes", "hash", "prev_hash", "num_seen"):
        np.testing.assert_array_equal(getattr(rebuilt, name), getattr(states, name), name)
    # The same chains, up to their labels: two points share an id in one iff in the other.
    same = lambda c: c[:, :, None] == c[:, None, :]
    np.testing.assert_array_equal(same(rebuilt.chain), same(states.chain))
    if rules.superko:  # the same set of earlier positions (hash 0, the empty board, included)
        valid = np.arange(rules.move_cap + 1)[None] < np.asarray(states.num_seen)[:, None]
        for s_new, s_old, v in zip(np.asarray(rebuilt.seen), np.asarray(states.seen), valid,
                                   strict=True):
            assert set(map(tuple, s_new.T[v])) == set(map(tuple, s_old.T[v]))
    x_new, legal_new = state_features(rules, rebuilt, rules.history)
    x_old, legal_old = state_features(rules, states, rules.history)
    np.testing.assert_array_equal(legal_new, legal_old)
    np.testing.assert_array_equal(x_new, x_old)
    # Stepping on keeps agreeing (captures use the rebuilt chains).
    acts = jax.vmap(rules.random_action)(states, jax.random.split(jax.random.key(2), n))
    step = jax.jit(jax.vmap(rules.step))
    np.testing.assert_array_equal(step(rebuilt, acts).boards, step(states, acts).boards)


def test_superko_history_is_an_approximation():
    """With a short stored history the rebuilt superko table holds only those boards: documented
    as an approximation, so only check that it is a subset of the real one."""
    rules = Rules(size=SIZE, komi=0.5, superko=True, max_moves=30, history=2)
    states = _random_positions(rules, 12, jax.random.key(3))
    rebuilt = jax.jit(jax.vmap(rules.from_history))(states.boards, states.to_play,
                                                    states.move_count, states.passes)
    for s_new, k_new, s_old, k_old in zip(np.asarray(rebuilt.seen), np.asarray(rebuilt.num_seen),
                                          np.asarray(states.seen), np.asarray(states.num_seen),
                                          strict=True):
        assert k_new <= 2 and set(map(tuple, s_new.T[:k_new])) <= set(map(tuple, s_old.T[:k_old]))


def test_reanalysed_targets_equal_a_fresh_search():
    rules = LONG
    net = network(num_planes(rules.history), kind="resnet", blocks=1, channels=8)
    params = net.init(jax.random.key(0))
    settings = selfplay_settings(history=rules.history, policy_target="soft",
                                 temperature_moves=4)
    settings = settings._replace(full=settings.full._replace(num_simulations=8))
    states = _random_positions(rules, MOVES, jax.random.key(4))
    buf = _store(rules, states, rules.history)
    n = states.to_play.shape[0]
    key = jax.random.key(5)

    @jax.jit
    def both(buf, states):
        rebuilt = reanalyse.rebuild_states(rules, buf, jnp.arange(n))
        new = reanalyse.search_targets(rules, net, settings, params, rebuilt, key)
        k_search, k_act = jax.random.split(key)
        fresh = run_search(rules, net, rules.history, settings.full, params, states, k_search)
        action = selfplay.choose_action(k_act, fresh, states.move_count, settings)
        return new, (selfplay.policy_target(fresh, action, settings), fresh.value)

    (policy, value), (want_policy, want_value) = both(buf, states)
    np.testing.assert_array_equal(policy, want_policy)
    np.testing.assert_array_equal(value, want_value)
    # The search did value the positions (finished games, after two passes, are worth 0).
    assert np.mean(np.asarray(value) != 0) > 0.5


def test_stored_legal_mask_removes_older_repeats():
    policy = jnp.array([[0.5, 0.25, 0.0, 0.25], [0.2, 0.3, 0.4, 0.1]])
    legal = jnp.array([[True, False, True], [True, True, True]])
    fallback = jnp.zeros_like(policy)
    out = np.asarray(reanalyse._mask_stored_legal(policy, legal, fallback))
    np.testing.assert_allclose(out[0], [2 / 3, 0.0, 0.0, 1 / 3], rtol=1e-6)
    np.testing.assert_array_equal(out[1], policy[1])  # untouched rows stay bit-identical


def _toy_batch():
    n = 4
    return replay.Sample(
        x=jax.random.bernoulli(jax.random.key(9), 0.5, (n, SIZE, SIZE, num_planes(1))).astype(
            jnp.float32), policy=jnp.zeros((n, SIZE * SIZE + 1)),
        value=jnp.array([1.0, 0.0, -1.0, 1.0]), search_value=jnp.array([0.5, -0.2, 1.0, -1.0]),
        ownership=jnp.zeros((n, SIZE, SIZE)), own_weight=jnp.zeros((n,)),
    )


def test_value_targets_on_a_toy_batch():
    batch = _toy_batch()
    outcome = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], np.float32)
    search = np.array([[0.75, 0, 0.25], [0.4, 0, 0.6], [1, 0, 0], [0, 0, 1]], np.float32)
    np.testing.assert_array_equal(value_target(batch, "outcome"), outcome)
    np.testing.assert_allclose(value_target(batch, "search"), search, rtol=1e-6)
    np.testing.assert_allclose(value_target(batch, "mix", 0.25), 0.75 * outcome + 0.25 * search,
                               rtol=1e-6)
    np.testing.assert_array_equal(value_target(batch, "mix", 0.0), outcome)
    # Expectations: the scalar search value survives the W/D/L encoding.
    wdl = np.asarray(wdl_from_scalar(batch.search_value))
    np.testing.assert_allclose(wdl[:, 0] - wdl[:, 2], batch.search_value, rtol=1e-6)
    np.testing.assert_allclose(wdl.sum(-1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="value target"):
        value_target(batch, "bogus")


def test_value_target_reaches_the_loss():
    net = network(num_planes(1), kind="resnet", blocks=1, channels=8)
    params = net.init(jax.random.key(0))
    batch = _toy_batch()
    losses = {}
    loss = jax.jit(loss_fn, static_argnums=(1, 3))
    for kind, mix in (("outcome", 0.0), ("mix", 0.0), ("search", 0.0), ("mix", 1.0)):
        losses[kind, mix] = loss(params, net, batch, LossWeights(1.0, 0.0, kind, mix))[1]
    # 'mix' at 0 is the outcome (soft one-hot vs integer labels), at 1 the search value.
    np.testing.assert_allclose(losses["mix", 0.0]["value_loss"],
                               losses["outcome", 0.0]["value_loss"], rtol=1e-5)
    np.testing.assert_allclose(losses["mix", 1.0]["value_loss"],
                               losses["search", 0.0]["value_loss"], rtol=1e-5)
    assert abs(float(losses["search", 0.0]["value_loss"])
               - float(losses["outcome", 0.0]["value_loss"])) > 1e-3


# 5x5 tiny run as tests/test_train.py's, whose games finish by iteration 2.
TINY = [
    "size=5", "blocks=1", "channels=8", "num_simulations=2", "max_num_considered_actions=2",
    "fast_simulations=2", "selfplay_batch=4", "selfplay_steps=4", "max_moves=6",
    "temperature_moves=2", "buffer_capacity=48", "min_buffer=8", "train_batch=16",
    "sgd_steps=2", "eval_games=2", "eval_simulations=2", "wandb=false",
]


def test_reanalyse_rows_of_a_batch():
    """The sampler's first `count` rows carry the reanalysed targets; with reanalyse_value their
    search value is the new root value."""
    cfg = make_config("default", TINY + ["reanalyse_fraction=0.25", "reanalyse_value=true",
                                         "value_target=search", "symmetries=false"])
    settings, learner = cfg.reanalyse_settings(), cfg.learner_settings()
    assert settings.count == 4
    rules, net = cfg.rules(), cfg.network()
    params = net.init(jax.random.key(0))
    # A buffer of random positions, all of finished games (ready), uniform stored policies.
    states = _random_positions(rules, 6, jax.random.key(6))
    buf = _store(rules, states, cfg.history)
    n = states.to_play.shape[0]
    legal = jnp.concatenate([buf.legal, jnp.ones((n, 1), bool)], axis=-1)
    buf = buf.replace(policy=legal / jnp.sum(legal, -1, keepdims=True))
    buf = replay.add_results(buf, jnp.ones((n,), bool), buf.game_id, jnp.ones((n,), jnp.int8))
    key = jax.random.key(2)

    @jax.jit
    def run(params, buf):
        re = reanalyse.prepare(rules, net, settings, params, buf, key, cfg.sgd_steps)
        sample = reanalyse.make_sampler(re, settings, learner, buf)
        return re, sample(jax.random.key(3), jnp.int32(1))

    re, batch = run(params, buf)
    assert re.idx.shape == (cfg.sgd_steps, 4) and batch.policy.shape == (16, 26)
    np.testing.assert_array_equal(batch.policy[:4], re.policy[1])
    np.testing.assert_array_equal(batch.search_value[:4], re.value[1])
    np.testing.assert_allclose(np.sum(batch.policy[:4], -1), 1.0, rtol=1e-5)
    assert not np.array_equal(batch.policy[:4], buf.policy[re.idx[1]])  # really new targets
    plain = replay.gather(buf, re.idx[1], cfg.size)
    np.testing.assert_array_equal(batch.x[:4], plain.x)
    np.testing.assert_array_equal(batch.value[:4], plain.value)
    np.testing.assert_array_equal(batch.search_value[4:], 0.0)  # the other rows: as stored


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        (["reanalyse_fraction=1.5"], "reanalyse_fraction must be finite and in"),
        (["value_target_mix=-0.1"], "value_target_mix must be finite and in"),
        (["value_target=best"], "value_target must be one of"),
        (["reanalyse_fraction=0.5", "size=9", "sizes=5,9"], "reanalyse_fraction must be 0 with"),
        (["reanalyse_fraction=0.5", "reanalyse_value=true"], "reanalyse_value needs value_t"),
        (["reanalyse_value=true", "value_target=mix"], "reanalyse_value needs reanalyse_frac"),
        (["bootstrap_iterations=2", "value_target=mix"], "value_target must be 'outcome' with"),
    ],
)
def test_bad_settings_are_refused(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make_config("default", overrides)


def test_tiny_run_with_reanalyse_and_old_replay_resume(tmp_path, capsys, monkeypatch):
    """A tiny CLI run with reanalyse 0.5 and the mixed value target trains with finite losses;
    a checkpoint whose replay buffer predates move numbers is refused with a clear message,
    while its parameters still load."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    run = tmp_path / "run"
    argv = ["train", "--run-dir", str(run), *TINY, "reanalyse_fraction=0.5",
            "reanalyse_value=true", "value_target=mix", "value_target_mix=0.5", "eval_every=0",
            "checkpoint_every=3", "--iterations=3"]
    assert cli.main(argv) == 0
    records = read_metrics(run)
    assert [r["trained"] for r in records] == [0, 1, 1]
    for r in records[1:]:
        for k in ("loss", "policy_loss", "value_loss", "grad_norm"):
            assert np.isfinite(r[k]) and r[k] > 0, k

    # Rewrite the checkpoint as an older alphago-jax saved it: no move_count / passes.
    trainer = make_train(runs.resolve_config(run, "default", [])[0])
    with Checkpointer(run / "checkpoints") as ckpt:
        carry = runs.restore_state(ckpt, trainer, 3)
    old = OldReplay(**{f.name: getattr(carry.replay, f.name)
                       for f in dataclasses.fields(OldReplay)})
    shutil.rmtree(run / "checkpoints")
    with Checkpointer(run / "checkpoints") as ckpt:
        ckpt.save_items(3, {"params": carry.train.params, "opt_state": carry.train.opt_state,
                            "selfplay": carry.selfplay, "replay": old},
                        {"kind": "selfplay", "iteration": 3, "sgd_step": 4})
    capsys.readouterr()
    assert cli.main(["train", "--run-dir", str(run), "--iterations=4"]) == 2
    err = capsys.readouterr().err
    assert "older alphago-jax" in err and "move_count" in err and f"init_from={run}" in err
    assert "Traceback" not in err
    loaded = runs.load_params(run)
    for a, b in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(carry.train.params),
                    strict=True):
        np.testing.assert_array_equal(a, b)


@chex.dataclass(frozen=True)
class OldReplay:
    """The replay buffer's fields before reanalyse (a one-size buffer)."""

    boards: chex.Array
    to_play: chex.Array
    legal: chex.Array
    policy: chex.Array
    search_value: chex.Array
    game_id: chex.Array
    ptr: chex.Array
    result: chex.Array
    result_id: chex.Array
    result_own: chex.Array
    own_valid: chex.Array
