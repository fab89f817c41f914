"""API invariants of the rules engine: batching, dtypes and shapes, the static `Rules` object."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from go_reference import RefGame

from alphago_jax.rules import BLACK, LEGAL, GoState, Rules


def _random_games(rules: Rules, key: jax.Array, batch: int, max_len: int):
    """A batch of games after 0..max_len random legal moves each (some may be over).

    Returns:
      states: GoState with batch axis [B]; actions: int32[B, max_len] (those at t >= lengths[b]
      were not played); lengths: int32[B].
    """

    def one(key):
        k_len, k_moves = jax.random.split(key)
        length = jax.random.randint(k_len, (), 0, max_len + 1)

        def body(state, xs):
            t, k = xs
            logits = jnp.where(rules.legal_mask(state), 0.0, -jnp.inf)
            action = jax.random.categorical(k, logits).astype(jnp.int32)
            new = rules.step(state, action)
            return jax.tree.map(lambda a, b: jnp.where(t < length, a, b), new, state), action

        xs = (jnp.arange(max_len), jax.random.split(k_moves, max_len))
        state, actions = jax.lax.scan(body, rules.init(), xs)
        return state, actions, length

    return jax.jit(jax.vmap(one))(jax.random.split(key, batch))


def _everything(rules: Rules, state: GoState, action: jax.Array):
    """All public per-state queries, and the state after `action`."""
    return dict(mask=rules.legal_mask(state), status=rules.move_status(state, action),
                score=rules.score(state), over=rules.is_over(state), board=rules.board(state),
                to_play=rules.to_play(state), next=rules.step(state, action))


def _assert_trees_equal(a, b, what: str):
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b),
                            strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape, (what, path, x.dtype, y.dtype)
        assert np.array_equal(x, y), (what, jax.tree_util.keystr(path))


@pytest.mark.parametrize("rules", [Rules(size=6, komi=0.5),
                                   Rules(size=4, komi=2.0, superko=False, suicide=False,
                                         max_moves=20)],
                         ids=["6x6-superko", "4x4-simpleko-nosuicide-cap20"])
def test_vmap_and_jit_equal_per_game_results(rules: Rules):
    """Batched (vmap + jit) queries and steps equal per-game jitted ones, and the reference.

    Sizes 4 and 6 are not in the reference suite: they check that every size goes through the
    same code.
    """
    batch = 12
    key_states, key_actions = jax.random.split(jax.random.key(rules.size))
    states, played, lengths = _random_games(rules, key_states, batch, max_len=rules.move_cap)
    # A mix of legal and arbitrary (often illegal or out-of-range) actions.
    actions = jax.random.randint(key_actions, (batch,), -1, rules.num_actions + 1)
    batched = jax.jit(jax.vmap(lambda s, a: _everything(rules, s, a)))(states, actions)
    single = jax.jit(lambda s, a: _everything(rules, s, a))
    assert bool(jnp.any(batched["over"])) and not bool(jnp.all(batched["over"]))
    for g in range(batch):
        state_g = jax.tree.map(lambda x, g=g: x[g], states)
        want = jax.tree.map(lambda x, g=g: x[g], batched)
        _assert_trees_equal(single(state_g, actions[g]), want, f"game {g}")
        ref = RefGame(rules.size, komi=rules.komi, superko=rules.superko, suicide=rules.suicide,
                      max_moves=rules.max_moves)
        for a in np.asarray(played[g, : int(lengths[g])]):
            ref.step(int(a))
        assert ref.signed_board() == np.asarray(want["board"]).ravel().tolist(), g
        assert ref.legal_mask() == np.asarray(want["mask"]).tolist(), g
        assert np.float32(ref.score()) == want["score"], g
        assert ref.is_over() == bool(want["over"]), g


@pytest.mark.parametrize("superko", [True, False])
def test_state_dtypes_and_shapes_for_every_size(superko: bool):
    for size in range(2, 20):
        rules = Rules(size=size, superko=superko, history=3)
        p = size * size
        slots = 2 * p + 1 if superko else 0
        want = dict(boards=((3, p), jnp.int8), chain=((p,), jnp.int16), to_play=((), jnp.int8),
                    move_count=((), jnp.int16), passes=((), jnp.int8), hash=((2,), jnp.uint32),
                    prev_hash=((2,), jnp.uint32), seen=((2, slots), jnp.uint32),
                    num_seen=((), jnp.int16))
        init = jax.eval_shape(rules.init)
        after = jax.eval_shape(rules.step, init, jax.ShapeDtypeStruct((), jnp.int32))
        batched = jax.eval_shape(jax.vmap(rules.step), _batch_spec(init, 5),
                                 jax.ShapeDtypeStruct((5,), jnp.int32))
        for name, (shape, dtype) in want.items():
            for state, lead in ((init, ()), (after, ()), (batched, (5,))):
                leaf = getattr(state, name)
                assert (leaf.shape, leaf.dtype) == (lead + shape, dtype), (size, name, leaf)
        outputs = {
            "legal_mask": (rules.legal_mask, (p + 1,), jnp.bool_),
            "score": (rules.score, (), jnp.float32),
            "is_over": (rules.is_over, (), jnp.bool_),
            "board": (rules.board, (size, size), jnp.int8),
            "to_play": (rules.to_play, (), jnp.int8),
        }
        for name, (fn, shape, dtype) in outputs.items():
            out = jax.eval_shape(fn, init)
            assert (out.shape, out.dtype) == (shape, dtype), (size, name, out)


def _batch_spec(state, n: int):
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct((n, *x.shape), x.dtype), state)


def test_initial_state_values():
    rules = Rules(size=3, komi=0.5)
    s = rules.init()
    assert not np.asarray(s.boards).any()
    assert int(s.to_play) == BLACK and int(s.move_count) == 0 and int(s.passes) == 0
    out = jax.jit(_everything, static_argnums=0)(rules, s, jnp.int32(4))
    assert np.asarray(out["mask"]).all()
    assert int(out["status"]) == LEGAL
    assert float(out["score"]) == -0.5 and not bool(out["over"])
    after = out["next"]
    assert np.asarray(after.boards[0]).tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert int(after.to_play) == -BLACK and int(after.move_count) == 1


def test_seen_table_holds_every_position_sorted():
    rules = Rules(size=5, komi=0.5)
    s = rules.init()
    stones = 0
    for a in [12, 25, 6, 7, 25, 0, 18]:  # passes add no position
        s = rules.play(s, a)
        stones += a != 25
        n = int(s.num_seen)
        assert n == 1 + stones
        key = np.asarray(s.seen[0])
        assert np.all(np.diff(key[:n].astype(np.int64)) >= 0)
        assert np.all(key[n:] == 0xFFFFFFFF)
    assert Rules(size=5, superko=False).init().seen.shape == (2, 0)


def test_rules_is_frozen_and_hashable():
    a, b = Rules(size=9, komi=7.5), Rules(size=9, komi=7.5)
    assert a == b and hash(a) == hash(b)
    assert a != Rules(size=9, komi=6.5) and a != Rules(size=9, superko=False)
    assert {a: 1}[b] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.komi = 0.5  # type: ignore[misc]
    assert (a.num_points, a.num_actions, a.pass_action, a.move_cap) == (81, 82, 81, 162)
    assert Rules(size=9, max_moves=50).move_cap == 50


def test_equal_rules_share_one_compilation():
    traces = []

    def fn(rules, state):
        traces.append(rules)
        return rules.legal_mask(state)

    jitted = jax.jit(fn, static_argnums=0)
    state = Rules(size=3).init()
    jitted(Rules(size=3), state)
    jitted(Rules(size=3), state)
    assert len(traces) == 1
    jitted(Rules(size=3, suicide=False), state)
    assert len(traces) == 2


@pytest.mark.parametrize("kwargs, text", [
    (dict(size=1), "board size"), (dict(size=20), "board size"), (dict(size=0), "board size"),
    (dict(max_moves=0), "max_moves"), (dict(max_moves=30001), "max_moves"),
    (dict(history=0), "history"),
])
def test_rules_validation(kwargs, text):
    with pytest.raises(ValueError, match=text):
        Rules(**kwargs)


def test_rules_validation_accepts_the_limits():
    for kwargs in (dict(size=2), dict(size=19), dict(max_moves=1), dict(max_moves=30000),
                   dict(history=1)):
        Rules(**kwargs)


def test_play_rejects_a_batch():
    rules = Rules(size=3)
    batch = jax.vmap(lambda _: rules.init())(jnp.arange(2))
    with pytest.raises(ValueError, match="single game"):
        rules.play(batch, 0)


def test_outcome_is_score_and_ownership_where_asked_and_zero_elsewhere():
    rules = Rules(size=5, komi=0.5)
    states, _, _ = _random_games(rules, jax.random.key(7), 12, 40)
    where = jnp.arange(12) % 3 != 0
    score, area = jax.jit(jax.vmap(rules.outcome))(states, where)
    full_score = jax.vmap(rules.score)(states)
    full_area = jax.vmap(rules.ownership)(states).reshape(12, 25)
    assert area.dtype == jnp.int8 and score.dtype == jnp.float32
    w = np.asarray(where)
    np.testing.assert_array_equal(np.asarray(score)[w], np.asarray(full_score)[w])
    np.testing.assert_array_equal(np.asarray(area)[w], np.asarray(full_area)[w])
    # The games not asked for pay no flood and read zero (not -komi), whatever their board.
    assert np.all(np.asarray(score)[~w] == 0) and np.all(np.asarray(area)[~w] == 0)
    assert np.any(np.asarray(full_area)[~w] != 0)
