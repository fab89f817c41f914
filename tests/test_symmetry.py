"""Dihedral board symmetries: group structure, consistency, jit, and equivariance with the rules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alphago_jax.rules import LEGAL, Rules
from alphago_jax.rules.symmetry import (
    NUM_SYMMETRIES,
    inverse,
    transform_action,
    transform_board,
    transform_planes,
    transform_policy,
)

SIZES = (2, 3, 4, 9, 19)
SYMS = range(NUM_SYMMETRIES)


def _generic(size):
    """A board whose values are the point indices: no symmetry fixes it."""
    return jnp.arange(size * size, dtype=jnp.int32).reshape(size, size)


def _expected(x, s):
    """Reference: k quarter turns clockwise, then a transpose if s >= 4."""
    y = np.rot90(np.asarray(x), -(s % 4))
    return y.T if s >= 4 else y


@pytest.mark.parametrize("size", SIZES)
def test_bijections_distinct_and_identity(size):
    x = _generic(size)
    outs = [np.asarray(transform_board(x, s)) for s in SYMS]
    assert NUM_SYMMETRIES == 8
    np.testing.assert_array_equal(outs[0], x)
    for s, y in enumerate(outs):
        assert sorted(y.ravel().tolist()) == list(range(size * size))
        np.testing.assert_array_equal(y, _expected(x, s))
    assert len({y.tobytes() for y in outs}) == 8


@pytest.mark.parametrize("size", SIZES)
def test_inverse_composes_to_identity(size):
    x = _generic(size)
    actions = jnp.arange(size * size + 1)
    for s in SYMS:
        inv = int(inverse(s))
        np.testing.assert_array_equal(transform_board(transform_board(x, s), inv), x)
        np.testing.assert_array_equal(transform_board(transform_board(x, inv), s), x)
        back = transform_action(transform_action(actions, s, size), inv, size)
        np.testing.assert_array_equal(back, actions)
    # Only the identity and the half turn are their own inverses among rotations.
    assert [int(inverse(s)) for s in SYMS] == [0, 3, 2, 1, 4, 5, 6, 7]


@pytest.mark.parametrize("size", SIZES)
def test_policy_board_action_consistency(size):
    x = _generic(size)
    p = size * size
    policy = jnp.arange(p + 1, dtype=jnp.float32)
    for s in SYMS:
        board = np.asarray(transform_board(x, s)).ravel()
        pol = np.asarray(transform_policy(policy, s, size))
        np.testing.assert_array_equal(pol[:p], board)
        assert pol[p] == p  # pass stays last
        moved = np.asarray(transform_action(jnp.arange(p + 1), s, size))
        assert moved[p] == p
        # The value that was at point a now sits at transform_action(a).
        np.testing.assert_array_equal(board[moved[:p]], np.arange(p))


def test_planes_match_board_per_channel():
    size, c = 5, 3
    x = jax.random.normal(jax.random.key(0), (2, size, size, c))
    for s in SYMS:
        y = transform_planes(x, s)
        for ch in range(c):
            np.testing.assert_array_equal(y[..., ch], transform_board(x[..., ch], s))


def test_traced_symmetry_under_jit_and_vmap():
    size = 5
    key = jax.random.key(1)
    board = jax.random.normal(key, (size, size))
    planes = jax.random.normal(key, (size, size, 4))
    policy = jax.random.normal(key, (size * size + 1,))

    @jax.jit
    def apply(s):
        return (
            transform_board(board, s),
            transform_planes(planes, s),
            transform_policy(policy, s, size),
            transform_action(jnp.int32(7), s, size),
            inverse(s),
        )

    syms = jnp.arange(NUM_SYMMETRIES, dtype=jnp.int32)
    batched = jax.jit(jax.vmap(apply))(syms)
    for s in SYMS:
        eager = (
            transform_board(board, s),
            transform_planes(planes, s),
            transform_policy(policy, s, size),
            transform_action(7, s, size),
            inverse(s),
        )
        for got_jit, got_vmap, want in zip(apply(jnp.int32(s)), batched, eager, strict=True):
            np.testing.assert_array_equal(got_jit, want)
            np.testing.assert_array_equal(got_vmap[s], want)
    # A batch of symmetries without vmap: one per leading index.
    boards = jnp.broadcast_to(board, (8, size, size))
    np.testing.assert_array_equal(transform_board(boards, syms), batched[0])
    planes8 = jnp.broadcast_to(planes, (8,) + planes.shape)
    np.testing.assert_array_equal(transform_planes(planes8, syms), batched[1])
    policies = jnp.broadcast_to(policy, (8, size * size + 1))
    np.testing.assert_array_equal(transform_policy(policies, syms, size), batched[2])


def _random_game(rules, key, num_moves):
    """A random legal action sequence (checked play); passes are rare so the board fills up."""
    legal_mask = jax.jit(rules.legal_mask)
    is_over = jax.jit(rules.is_over)
    noise = np.array(jax.random.uniform(key, (num_moves, rules.num_actions)))
    noise[:, -1] *= 0.02
    state, actions = rules.init(), []
    for i in range(num_moves):
        if bool(is_over(state)):
            break
        mask = np.asarray(legal_mask(state))
        a = int(np.argmax(np.where(mask, noise[i], -1.0)))
        state = rules.play(state, a)
        actions.append(a)
    return actions


@pytest.mark.parametrize(
    "rules,seed",
    [
        (Rules(size=5, superko=True, suicide=True, history=3), 0),
        (Rules(size=6, superko=False, suicide=False, history=2), 1),
    ],
)
def test_equivariance_with_rules(rules, seed):
    """Replaying a game and its 8 transforms side by side keeps boards and legal masks related."""
    n = rules.size
    actions = _random_game(rules, jax.random.key(seed), num_moves=3 * n * n)
    assert len(actions) > n * n
    syms = jnp.arange(NUM_SYMMETRIES, dtype=jnp.int32)

    @jax.jit
    def advance(states, a):
        # One checked move in all 8 games: the status says whether each transformed move is legal.
        moves = transform_action(a, syms, n)
        status = jax.vmap(rules.move_status)(states, moves)
        states = jax.vmap(rules.step)(states, moves)
        masks = jax.vmap(rules.legal_mask)(states)
        hist = states.boards.reshape(NUM_SYMMETRIES, -1, n, n)
        want_hist = jax.vmap(transform_board, in_axes=(None, 0))(hist[0], syms)
        want_masks = transform_policy(jnp.broadcast_to(masks[0], masks.shape), syms, n)
        return states, status, hist, want_hist, masks, want_masks

    states = jax.tree.map(lambda x: jnp.stack([x] * NUM_SYMMETRIES), rules.init())
    captures = 0
    for a in actions:
        before = int(jnp.sum(states.boards[0, 0] != 0))
        states, status, hist, want_hist, masks, want_masks = advance(states, jnp.int32(a))
        np.testing.assert_array_equal(status, LEGAL)
        np.testing.assert_array_equal(hist, want_hist)
        np.testing.assert_array_equal(masks, want_masks)
        np.testing.assert_array_equal(states.to_play, states.to_play[0])
        after = int(jnp.sum(states.boards[0, 0] != 0))
        captures += int(a != rules.pass_action and after <= before)
    # The sequence must exercise captures, not just fill the board.
    assert captures > 0
    scores = jax.vmap(rules.score)(states)
    np.testing.assert_array_equal(scores, scores[0])
    # The checked host API agrees on one transformed replay.
    state = rules.init()
    for a in actions:
        state = rules.play(state, int(transform_action(a, 5, n)))
    np.testing.assert_array_equal(state.boards, states.boards[5])
