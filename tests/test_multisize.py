"""Tests for multi-size training (one net, several boards, one padded replay buffer), warm starts
(`init_from`) and the random-play value bootstrap (`bootstrap_iterations`)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alphago_jax import cli
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import ConfigError, make_config
from alphago_jax.features.planes import num_planes, pad_board, planes_from, unpad_policy
from alphago_jax.learner import LossWeights, loss_fn
from alphago_jax.loop import run_iterations
from alphago_jax.replay import buffer as replay
from alphago_jax.rules import symmetry
from alphago_jax.rules.go import Rules
from alphago_jax.runs import (
    OWNERSHIP_HEAD,
    check_warm_start,
    param_mismatches,
    save_state,
    warm_start,
)
from alphago_jax.trainer import device_slice, make_train

HISTORY = 2
C = num_planes(HISTORY)
POLICY_HEAD = ("policy_conv", "policy_pool", "pass_dense", "policy_norm", "policy_out")
VALUE_HEAD = ("value_conv", "value_norm", "value_hidden", "value_out")

# One tiny net for everything. 3x3 and 5x5 games end by the move cap after 6 moves: 4 lockstep
# games x 4 moves per iteration finish their first games in iteration 2 (48 positions >=
# min_buffer), so the one SGD step of iteration 2 is a bootstrap step, that of iteration 3 not.
ARCH = ["blocks=1", "channels=8", "history=2", "wandb=false"]
TINY = ARCH + [
    "size=5", "sizes=3,5", "num_simulations=2", "max_num_considered_actions=2",
    "fast_simulations=2", "selfplay_batch=4", "selfplay_steps=4", "max_moves=6",
    "temperature_moves=2", "buffer_capacity=64", "min_buffer=8", "train_batch=16",
    "sgd_steps=1", "eval_games=2", "eval_simulations=2", "bootstrap_iterations=2",
    "iterations=3", "lr_schedule=constant", "weight_decay=0", "resign_threshold=-1",
]


def _np(tree):
    return jax.tree.map(np.asarray, tree)


def _leaves(params) -> dict[str, np.ndarray]:
    return {jax.tree_util.keystr(p): np.asarray(x)
            for p, x in jax.tree_util.tree_leaves_with_path(params)}


def _pad_policy_target(p, n, s):
    """[..., n*n+1] -> [..., s*s+1] with zeros on padded points (how the buffer pads targets)."""
    lead = p.shape[:-1]
    pts = pad_board(p[..., :-1].reshape(lead + (n, n)), s).reshape(lead + (s * s,))
    return jnp.concatenate([pts, p[..., -1:]], axis=-1)


# ------------------------------------------------------------------------------ replay buffer
S = 5
SMALL = 3
RULES = Rules(size=S, komi=0.5, history=HISTORY)


def _positions(rng, n, b):
    """b random positions of an n x n board: boards, to_play, legal, policy, own (numpy)."""
    boards = rng.integers(-1, 2, (b, HISTORY, n * n)).astype(np.int8)
    to_play = np.where(np.arange(b) % 2 == 0, 1, -1).astype(np.int8)
    legal = rng.random((b, n * n)) < 0.6
    policy = rng.random((b, n * n + 1)).astype(np.float32)
    policy /= policy.sum(-1, keepdims=True)
    own = rng.integers(-1, 2, (b, n * n)).astype(np.int8)
    return boards, to_play, legal, policy, own


@pytest.fixture(scope="module")
def mixed():
    """A 5x5 multi-size buffer holding 4 finished 3x3 positions (slots 0-3) and 4 5x5 ones
    (slots 4-7); each slot's index is written in its pass entry (symmetries keep pass fixed, so
    a sampled row tells its slot). Returns (buffer, {slot: (n, unpadded pieces)})."""
    rng = np.random.default_rng(0)
    buf = replay.init(RULES, 8, HISTORY, ownership=True, num_sizes=2)
    originals = {}
    for i, n in enumerate((SMALL, S)):
        boards, to_play, legal, policy, own = _positions(rng, n, 4)
        policy[:, -1] = 4 * i + np.arange(4)  # the tag (not a distribution any more)
        ids = jnp.asarray(i + 2 * np.arange(4), jnp.int32)  # interleaved ids, like self-play
        buf = replay.add_positions(buf, boards, to_play, legal, policy, ids)
        result = np.array([1, -1, 1, 0], np.int8)
        buf = replay.add_results(buf, jnp.ones(4, bool), ids, result, own, jnp.ones(4, bool))
        for j in range(4):
            originals[4 * i + j] = (n, boards[j], to_play[j], legal[j], policy[j], own[j],
                                    float(result[j] * to_play[j]))
    return buf, originals


_sample = jax.jit(replay.sample, static_argnums=(2, 3, 4))


def _unpadded(orig):
    """Planes, policy and ownership (side to move's view) of an original, on its own board."""
    n, boards, to_play, legal, policy, own, _ = orig
    x = planes_from(jnp.asarray(boards), jnp.asarray(to_play), jnp.asarray(legal), n)
    return x, jnp.asarray(policy), jnp.asarray(own.reshape(n, n) * to_play)


def test_padded_positions_are_stored_top_left(mixed):
    buf, originals = mixed
    assert buf.boards.shape == (8, HISTORY, S * S) and buf.policy.shape == (8, S * S + 1)
    assert np.asarray(buf.board_size).tolist() == [3] * 4 + [5] * 4
    grid = np.asarray(buf.boards).reshape(8, HISTORY, S, S)
    for slot in range(4):
        _, boards, *_ = originals[slot]
        np.testing.assert_array_equal(grid[slot, :, :SMALL, :SMALL],
                                      boards.reshape(HISTORY, SMALL, SMALL))
        assert not grid[slot, :, SMALL:, :].any() and not grid[slot, :, :, SMALL:].any()
        pol = np.asarray(buf.policy[slot])
        assert pol[-1] == slot  # pass stays the last action of the padded action space
        grid_pol = pol[:-1].reshape(S, S)
        assert grid_pol[SMALL:, :].sum() == 0 == grid_pol[:, SMALL:].sum()


def test_one_size_buffer_refuses_smaller_boards():
    buf = replay.init(RULES, 8, HISTORY, ownership=False)
    assert buf.board_size is None
    boards, to_play, legal, policy, _ = _positions(np.random.default_rng(1), SMALL, 2)
    with pytest.raises(ValueError, match="multi-size"):
        replay.add_positions(buf, boards, to_play, legal, policy, jnp.arange(2))


def _candidates(orig):
    """The 8 symmetries of an original position, padded to S: (x, policy, own) numpy each."""
    n = orig[0]
    x, pol, own = _unpadded(orig)
    return [(np.asarray(jnp.pad(symmetry.transform_planes(x, k), ((0, S - n), (0, S - n), (0, 0)))),
             np.asarray(_pad_policy_target(symmetry.transform_policy(pol, k, n), n, S)),
             np.asarray(pad_board(symmetry.transform_board(own, k), S)))
            for k in range(8)]


def _corner(n):
    mask = np.zeros((S, S))
    mask[:n, :n] = 1
    return mask


def test_mixed_batch_without_symmetries(mixed):
    buf, originals = mixed
    s = _np(_sample(buf, jax.random.key(0), 64, S, False))
    assert s.x.shape == (64, S, S, C) and s.policy.shape == (64, S * S + 1)
    slots = np.rint(s.policy[:, -1]).astype(int)
    assert {originals[k][0] for k in slots} == {SMALL, S}  # the batch mixes sizes
    want = {k: _candidates(originals[k])[0] for k in set(slots.tolist())}
    for row, slot in enumerate(slots):
        n = originals[slot][0]
        x, pol, own = want[slot]
        np.testing.assert_array_equal(s.x[row], x)
        np.testing.assert_array_equal(s.x[row, ..., -1], _corner(n))  # the on-board plane
        np.testing.assert_array_equal(s.policy[row], pol)
        np.testing.assert_array_equal(s.ownership[row], own)
        assert float(s.value[row]) == originals[slot][6]
    # The padded planes are exactly `planes_from(..., pad_to=S)` of the unpadded position.
    orig = originals[0]
    np.testing.assert_array_equal(_candidates(orig)[0][0], planes_from(
        jnp.asarray(orig[1]), jnp.asarray(orig[2]), jnp.asarray(orig[3]), SMALL, pad_to=S))


@pytest.mark.parametrize("n,s", [(SMALL, S), (S, S), (5, 9), (2, 4)])
def test_padded_symmetry_matches_unpadded_then_pad(n, s):
    rng = np.random.default_rng(n * 10 + s)
    boards, to_play, legal, policy, own = _positions(rng, n, 1)
    x = planes_from(jnp.asarray(boards[0]), jnp.asarray(to_play[0]), jnp.asarray(legal[0]), n)
    pol, own_n = jnp.asarray(policy[0]), jnp.asarray(own[0].reshape(n, n))
    x_pad = planes_from(jnp.asarray(boards[0]), jnp.asarray(to_play[0]),
                        jnp.asarray(legal[0]), n, pad_to=s)
    sizes = jnp.full((8,), n)
    syms = jnp.arange(8)
    tx, tp, to = replay.transform_padded(
        jnp.broadcast_to(x_pad, (8,) + x_pad.shape), jnp.broadcast_to(
            _pad_policy_target(pol, n, s), (8, s * s + 1)),
        jnp.broadcast_to(pad_board(own_n, s), (8, s, s)), sizes, syms)
    moved_off = False
    for k in range(8):
        want_x = jnp.pad(symmetry.transform_planes(x, k), ((0, s - n), (0, s - n), (0, 0)))
        np.testing.assert_array_equal(tx[k], want_x)
        np.testing.assert_array_equal(tp[k], _pad_policy_target(
            symmetry.transform_policy(pol, k, n), n, s))
        np.testing.assert_array_equal(to[k], pad_board(symmetry.transform_board(own_n, k), s))
        assert np.all(np.asarray(tx[k, ..., -1])[:n, :n] == 1)  # still on its corner
        # Transforming the whole padded grid would move a smaller board off its corner.
        naive = symmetry.transform_planes(x_pad, k)
        moved_off |= not np.array_equal(np.asarray(naive[..., -1]), np.asarray(x_pad[..., -1]))
    assert moved_off == (n < s)


def test_sampled_symmetries_keep_each_board_on_its_corner(mixed):
    buf, originals = mixed
    s = _np(_sample(buf, jax.random.key(3), 128, S, True))
    slots = np.rint(s.policy[:, -1]).astype(int)
    cands = {k: _candidates(originals[k]) for k in set(slots.tolist())}
    used = set()
    for row, slot in enumerate(slots):
        np.testing.assert_array_equal(s.x[row, ..., -1], _corner(originals[slot][0]))
        # The row is one of the 8 symmetries of its unpadded position, padded.
        matches = [k for k, (x, pol, own) in enumerate(cands[slot])
                   if np.array_equal(s.x[row], x) and np.array_equal(s.policy[row], pol)
                   and np.array_equal(s.ownership[row], own)]
        assert matches, f"row {row} (slot {slot}) is no symmetry of its position"
        used.add(matches[0])
    assert len(used) > 4  # the symmetries are really drawn


def test_net_on_padded_small_board_equals_unpadded(mixed, trainer, run):
    buf, originals = mixed
    apply, params = jax.jit(trainer.network), run[0][-1].train.params  # a trained 1x8 net
    assert trainer.cfg.global_pool  # masked pooling is part of what must be size-agnostic
    s = _sample(buf, jax.random.key(1), 16, S, False)
    slots = np.rint(np.asarray(s.policy[:, -1])).astype(int)
    rows = [r for r, k in enumerate(slots) if originals[k][0] == SMALL]
    assert rows
    padded = apply(params, s.x[np.array(rows)])
    small = apply(params, jnp.stack([_unpadded(originals[slots[r]])[0] for r in rows]))
    np.testing.assert_allclose(unpad_policy(padded.policy_logits, SMALL, S),
                               small.policy_logits, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(padded.value_logits, small.value_logits, atol=1e-4, rtol=1e-4)


def test_zero_policy_target_gives_exactly_zero_policy_head_gradient(mixed, trainer, run):
    """Why the bootstrap's zero targets never train the policy head: exact zeros, not small."""
    buf, _ = mixed
    params = run[0][0].train.params
    batch = _sample(buf, jax.random.key(2), 16, S, True)
    batch = batch.replace(policy=jnp.zeros_like(batch.policy))
    weights = LossWeights(1.0, 0.1)
    grads = jax.jit(jax.grad(lambda p: loss_fn(p, trainer.network, batch, weights)[0]))(params)
    leaves = _leaves(grads)
    policy = [k for k in leaves if any(h in k for h in POLICY_HEAD)]
    value = [k for k in leaves if any(h in k for h in VALUE_HEAD)]
    assert policy and value
    for k in policy:
        assert not leaves[k].any(), k
    assert all(leaves[k].any() for k in value)


# ------------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def trainer():
    return make_train(make_config("default", TINY))


@pytest.fixture(scope="module")
def run(trainer):
    """Two bootstrap iterations, then one normal one: (carries after 0, 2, 3, metrics)."""
    base = jax.random.key(trainer.cfg.seed)
    carry = trainer.init(jax.random.fold_in(base, 0))
    saved, metrics = [_np(carry)], []

    def keep(done, carry, m):  # the host loop picks bootstrap iterations by itself
        metrics.append(m)
        if done >= 2:
            saved.append(_np(carry))

    carry = run_iterations(trainer, carry, base, 3, [keep])
    return saved, metrics, carry


def test_multisize_iteration_fills_the_buffer_with_each_size(trainer, run):
    saved, metrics, _ = run
    assert trainer.sizes == (3, 5) and len(saved[-1].selfplay) == 2
    buf = device_slice(saved[-1].replay)  # the one device's replay shard
    sizes, ids = np.asarray(buf.board_size), np.asarray(buf.game_id)
    filled = ids >= 0
    assert set(sizes[filled].tolist()) == {3, 5}
    # Game ids are interleaved by size (index = id % 2), so results never collide.
    np.testing.assert_array_equal(ids[filled] % 2, (sizes[filled] == 5).astype(int))
    grid = np.asarray(buf.boards).reshape(-1, HISTORY, 5, 5)
    small = filled & (sizes == 3)
    assert not grid[small][:, :, 3:, :].any() and not grid[small][:, :, :, 3:].any()
    ready = np.asarray(replay.ready(buf))
    assert set(sizes[ready].tolist()) == {3, 5}
    for m in metrics:
        assert m["positions"] == 2 * 4 * 4  # both sizes every iteration
        assert m["positions_3x3"] == m["positions_5x5"] == 16
        assert m["games"] == m["games_3x3"] + m["games_5x5"]
    assert metrics[1]["games_3x3"] > 0 and metrics[1]["games_5x5"] > 0
    # A mixed-size training batch from it.
    batch = replay.sample(buf, jax.random.key(0), 64, 5, True)
    masks = np.asarray(batch.x[..., -1]).sum(axis=(1, 2))
    assert set(masks.tolist()) == {9.0, 25.0}


def test_bootstrap_iterations_leave_the_policy_head_alone(run):
    saved, metrics, _ = run
    assert [m["bootstrap"] for m in metrics] == [1, 1, 0]
    assert [m["trained"] for m in metrics] == [0, 1, 1]
    assert metrics[0]["root_value_abs"] == 0.0  # no search, no network in the move choice
    start, after_bootstrap, after_normal = (_leaves(c.train.params) for c in saved)
    policy = [k for k in start if any(h in k for h in POLICY_HEAD)]
    value = [k for k in start if any(h in k for h in VALUE_HEAD)]
    assert policy and value
    # weight_decay=0, constant lr: a zero gradient leaves AdamW's update exactly 0.
    for k in policy:
        np.testing.assert_array_equal(after_bootstrap[k], start[k], err_msg=k)
    assert all(not np.array_equal(after_bootstrap[k], start[k]) for k in value)
    # Random-play positions carry no policy target; the normal iteration then trains the policy.
    buf = saved[1].replay
    assert not np.asarray(buf.policy).any()
    assert any(not np.array_equal(after_normal[k], after_bootstrap[k]) for k in policy)
    assert np.asarray(saved[2].replay.policy).any()


def _source_run(trainer, carry, tmp_path):
    """A run directory holding `carry` at step 3 (a warm start's source)."""
    src = tmp_path / "src"
    src.mkdir()
    trainer.cfg.save(src / "config.json")
    with Checkpointer(src / "checkpoints", async_save=False) as ckpt:
        save_state(ckpt, 3, carry)
    return src


def test_warm_start_across_board_sizes(trainer, run, tmp_path):
    *_, carry = run
    src = _source_run(trainer, carry, tmp_path)
    source = _leaves(carry.train.params)

    cfg7 = make_config("default", ARCH + ["size=7", "selfplay_batch=2", "buffer_capacity=16",
                                          "train_batch=16", "min_buffer=4", f"init_from={src}"])
    t7 = make_train(cfg7)
    fresh = t7.init(jax.random.key(5))
    warm, info = warm_start(fresh, t7, src)
    assert "5x5" in info and str(src) in info
    got = _leaves(warm.train.params)
    assert got.keys() == source.keys()
    for k in source:
        np.testing.assert_array_equal(got[k], source[k], err_msg=k)
    assert int(warm.train.step) == 0
    for a, b in zip(jax.tree.leaves(warm.train.opt_state),
                    jax.tree.leaves(t7.optimizer.init(warm.train.params)), strict=True):
        np.testing.assert_array_equal(a, b)  # a fresh optimizer state
    assert warm.replay.boards.shape[-1] == 49  # this run's own board

    # A different architecture is refused, naming the leaves and both architectures.
    other = make_train(make_config("default", [*ARCH, "channels=16", "size=7"]))
    target = other.abstract_carry()
    with pytest.raises(ConfigError) as e:
        warm_start(target, other, src)
    msg = str(e.value)
    assert "1x8" in msg and "1x16" in msg and "['blocks'][0]['conv1']['kernel']" in msg, msg
    assert param_mismatches(carry.train.params, carry.train.params) == []


def test_warm_start_adds_a_fresh_ownership_head(trainer, run, tmp_path):
    """A source without an ownership head warm-starts a run with one: every shared leaf is the
    source's, the head keeps the run's own initialisation; any other missing leaf is refused."""
    *_, carry = run
    src = _source_run(trainer, carry, tmp_path)
    source = _leaves(carry.train.params)
    assert not any("ownership" in k for k in source)

    cfg = make_config("default", ARCH + ["size=5", "selfplay_batch=2", "buffer_capacity=16",
                                         "train_batch=16", "min_buffer=4", "ownership=true",
                                         f"init_from={src}"])
    check_warm_start(cfg)
    target = make_train(cfg)
    fresh = target.init(jax.random.key(5))
    warm, info = warm_start(fresh, target, src)
    got, own = _leaves(warm.train.params), _leaves(fresh.train.params)
    added = [k for k in got if k not in source]
    assert added and all(k.startswith(OWNERSHIP_HEAD) for k in added), added
    assert f"{len(added)} leaves of this run's own initialisation" in info
    for k in source:
        np.testing.assert_array_equal(got[k], source[k], err_msg=k)
    for k in added:
        np.testing.assert_array_equal(got[k], own[k], err_msg=k)

    # Only the ownership head may be new: a liberty stem (another shape) is still refused.
    libs = dataclasses.replace(cfg, liberties=True, ownership=False)
    with pytest.raises(ConfigError, match=r"\['stem'\]\['kernel'\]"):
        check_warm_start(libs)


def test_cli_init_from(trainer, run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    *_, carry = run
    src = _source_run(trainer, carry, tmp_path)
    argv = ["train", "--run-dir", str(tmp_path / "dst"), *ARCH, "size=7", "iterations=0",
            f"init_from={src}"]
    assert cli.main(argv) == 0
    assert f"warm start from {src}@3 (5x5" in capsys.readouterr().err
    bad = ["train", "--run-dir", str(tmp_path / "bad"), *ARCH, "blocks=2", "iterations=0",
           f"init_from={src}"]
    assert cli.main(bad) == 2
    err = capsys.readouterr().err
    assert "does not match" in err and "['blocks'][1]" in err, err
    missing = ["train", "--run-dir", str(tmp_path / "m"), *ARCH, "iterations=0",
               f"init_from={tmp_path / 'nowhere'}"]
    assert cli.main(missing) == 2
    assert "not a run directory" in capsys.readouterr().err


# ------------------------------------------------------------------------------ config
@pytest.mark.parametrize("items,words", [
    (["sizes=5,x"], "comma-separated"),
    (["sizes=5;7"], "comma-separated"),
    (["size=9", "sizes=5,5,9"], "repeat"),
    (["size=9", "sizes=1,9"], "2..19"),
    (["size=9", "sizes=5,7"], "largest"),
    (["size=7", "sizes=5,7,9"], "largest"),
    (["bootstrap_iterations=-1"], "bootstrap_iterations"),
])
def test_bad_multisize_config_is_refused(items, words):
    with pytest.raises(ConfigError, match=words):
        make_config("default", items)


def test_board_sizes_parsing():
    assert make_config("default").board_sizes == (5,)
    assert make_config("7x7").board_sizes == (7,)
    assert make_config("default", ["size=9", "sizes=9, 5,7"]).board_sizes == (5, 7, 9)
    assert make_config("multisize-9").board_sizes == (5, 7, 9)
    assert make_config("bootstrap-5x5").bootstrap_iterations > 0
