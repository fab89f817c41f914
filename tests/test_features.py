"""Network input planes and board-size padding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alphago_jax.features import (
    NEG_LOGIT,
    features,
    num_planes,
    pad_board,
    pad_policy,
    unpad_board,
    unpad_policy,
)
from alphago_jax.rules import Rules
from alphago_jax.rules.symmetry import transform_action, transform_planes

RULES = Rules(size=5, history=4)
N = RULES.size
# Jitted once per (history, pad_to): eager op-by-op dispatch of the legal mask is slow.
feat = jax.jit(features, static_argnums=0, static_argnames=("history", "pad_to"))
legal_mask = jax.jit(RULES.legal_mask)


def _grid(points):
    """float32[N, N] with 1 on the given flat points."""
    g = np.zeros(N * N, np.float32)
    g[list(points)] = 1.0
    return g.reshape(N, N)


def _replay(actions, rules=RULES):
    state = rules.init()
    for a in actions:
        state = rules.play(state, a)
    return state


# Black 1, White 12, Black 5: the corner point 0 is now suicide for White.
MOVES = [1, 12, 5]


def test_num_planes():
    assert num_planes(8) == 19
    assert num_planes(1) == 5
    assert feat(RULES, RULES.init()).shape == (N, N, num_planes(RULES.history))
    assert feat(RULES, RULES.init(), history=2).shape == (N, N, 7)


def test_planes_on_hand_made_position_white_to_move():
    state = _replay(MOVES)
    x = np.asarray(feat(RULES, state))
    assert x.dtype == np.float32
    k = 4
    own = [{12}, {12}, set(), set()]  # White: positions t, t-1, t-2, t-3
    opp = [{1, 5}, {1}, {1}, set()]  # Black in the same positions
    for i in range(k):
        np.testing.assert_array_equal(x[..., i], _grid(own[i]), err_msg=f"own plane {i}")
        np.testing.assert_array_equal(x[..., k + i], _grid(opp[i]), err_msg=f"opp plane {i}")
    np.testing.assert_array_equal(x[..., 2 * k], 0.0)  # White to move
    legal = np.asarray(legal_mask(state))[: N * N].reshape(N, N)
    np.testing.assert_array_equal(x[..., 2 * k + 1], legal)
    assert x[0, 0, 2 * k + 1] == 0.0  # suicide for White
    assert x[..., 2 * k + 1].sum() == N * N - 4  # 3 stones + the suicide point
    np.testing.assert_array_equal(x[..., 2 * k + 2], 1.0)


def test_planes_flip_with_side_to_move():
    state = _replay(MOVES + [24])  # White 24: Black to move
    x = np.asarray(feat(RULES, state))
    k = 4
    own = [{1, 5}, {1, 5}, {1}, {1}]  # Black
    opp = [{12, 24}, {12}, {12}, set()]  # White
    for i in range(k):
        np.testing.assert_array_equal(x[..., i], _grid(own[i]), err_msg=f"own plane {i}")
        np.testing.assert_array_equal(x[..., k + i], _grid(opp[i]), err_msg=f"opp plane {i}")
    np.testing.assert_array_equal(x[..., 2 * k], 1.0)  # Black to move
    assert x[0, 0, 2 * k + 1] == 1.0  # Black may play its own eye-like corner
    # Fewer history planes are the leading positions of the full set.
    x2 = np.asarray(feat(RULES, state, history=2))
    np.testing.assert_array_equal(x2[..., 0:2], x[..., 0:2])
    np.testing.assert_array_equal(x2[..., 2:4], x[..., 4:6])
    np.testing.assert_array_equal(x2[..., 4:], x[..., 8:])


def test_bad_history_and_pad_raise():
    state = RULES.init()
    for bad in (0, 5):
        with pytest.raises(ValueError, match=f"got {bad}"):
            features(RULES, state, history=bad)
    with pytest.raises(ValueError, match="pad_to"):
        features(RULES, state, pad_to=4)
    with pytest.raises(ValueError, match="pad_to"):
        pad_policy(jnp.zeros(26), 5, 4)


def test_padding_puts_zeros_outside():
    state = _replay(MOVES)
    x = np.asarray(feat(RULES, state))
    xp = np.asarray(feat(RULES, state, pad_to=7))
    assert xp.shape == (7, 7, x.shape[-1])
    np.testing.assert_array_equal(xp[:N, :N], x)
    assert not xp[N:].any() and not xp[:, N:].any()
    np.testing.assert_array_equal(xp[..., -1].sum(), N * N)  # on-board plane marks the board
    np.testing.assert_array_equal(feat(RULES, state, pad_to=N), x)


def test_features_under_jit_and_vmap():
    states = [RULES.init(), _replay(MOVES), _replay(MOVES + [24])]
    batch = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
    fn = jax.jit(jax.vmap(lambda s: features(RULES, s, pad_to=6)))
    out = fn(batch)
    assert out.shape == (3, 6, 6, num_planes(4))
    for i, s in enumerate(states):
        np.testing.assert_array_equal(out[i], feat(RULES, s, pad_to=6))


def test_features_are_equivariant():
    state = _replay(MOVES + [24])
    x = feat(RULES, state)
    for s in (1, 2, 6):
        moved = _replay([int(transform_action(a, s, N)) for a in MOVES + [24]])
        np.testing.assert_array_equal(feat(RULES, moved), transform_planes(x, s))


def test_pad_unpad_policy_round_trip():
    size, pad = 5, 7
    logits = jax.random.normal(jax.random.key(0), (2, 3, size * size + 1))
    padded = pad_policy(logits, size, pad)
    assert padded.shape == (2, 3, pad * pad + 1)
    np.testing.assert_array_equal(padded[..., -1], logits[..., -1])  # pass stays last
    grid = np.asarray(padded[..., :-1]).reshape(2, 3, pad, pad)
    np.testing.assert_array_equal(grid[..., :size, :size].reshape(2, 3, -1), logits[..., :-1])
    assert (grid[..., size:, :] == NEG_LOGIT).all() and (grid[..., :, size:] == NEG_LOGIT).all()
    probs = jax.nn.softmax(padded, axis=-1)
    np.testing.assert_allclose(unpad_policy(probs, size, pad), jax.nn.softmax(logits, -1), 1e-6)
    np.testing.assert_array_equal(unpad_policy(padded, size, pad), logits)
    # Padded layout matches the padded feature planes: point (r, c) keeps its coordinates.
    legal = legal_mask(_replay(MOVES)).astype(jnp.float32)
    xp = feat(RULES, _replay(MOVES), pad_to=pad)
    padded_legal = pad_policy(legal, size, pad)[:-1].reshape(pad, pad)
    np.testing.assert_array_equal(jnp.maximum(padded_legal, 0.0), xp[..., -2])
    # Low-precision logits stay finite.
    half = pad_policy(logits.astype(jnp.float16), size, pad)
    assert jnp.isfinite(half).all() and half[0, 0, -2] < -6e4


def test_pad_unpad_board_round_trip():
    own = jax.random.normal(jax.random.key(1), (4, 5, 5))
    padded = pad_board(own, 9)
    assert padded.shape == (4, 9, 9)
    assert not np.asarray(padded[:, 5:]).any() and not np.asarray(padded[:, :, 5:]).any()
    np.testing.assert_array_equal(unpad_board(padded, 5), own)
    with pytest.raises(ValueError, match="pad_to"):
        pad_board(own, 3)


def _planes_of(boards, size, k=2, pad_to=None):
    """float32[B, S, S, 2k+3] with the current position's stones from boards int[B, size*size]
    (1 = side to move, 2 = opponent) on a pad_to grid (mask plane last)."""
    pad_to = pad_to or size
    b = boards.shape[0]
    x = np.zeros((b, pad_to, pad_to, 2 * k + 3), np.float32)
    x[:, :size, :size, 0] = (boards == 1).reshape(b, size, size)
    x[:, :size, :size, k] = (boards == 2).reshape(b, size, size)
    x[:, :size, :size, -1] = 1.0
    return x


@pytest.mark.parametrize("size", [2, 5, 7, 19])
def test_liberty_planes_match_the_reference_chains(size):
    """Stones whose chain has 1, 2, 3 distinct liberties, against the reference flood fill."""
    from go_reference import find_chains, neighbour_table

    from alphago_jax.features import LIBERTY_PLANES, liberty_planes

    rng = np.random.default_rng(size)
    boards = rng.choice([0, 1, 2], size=(12, size * size), p=[0.35, 0.35, 0.3])
    got = np.asarray(jax.jit(liberty_planes)(_planes_of(boards, size)))
    nbrs = neighbour_table(size)
    counts = np.zeros(LIBERTY_PLANES + 1, int)
    for i, board in enumerate(boards):
        chains, chain_of = find_chains(list(board), nbrs)
        want = np.zeros((size * size, LIBERTY_PLANES), np.float32)
        for point, c in enumerate(chain_of):
            libs = len(chains[c].liberties) if c >= 0 else 0
            if 1 <= libs <= LIBERTY_PLANES:
                want[point, libs - 1] = 1.0
            counts[min(libs, LIBERTY_PLANES)] += c >= 0
        np.testing.assert_array_equal(got[i].reshape(-1, LIBERTY_PLANES), want)
    if size >= 5:  # the boards hold chains of every class, so each plane was checked
        assert np.all(counts[1:] > 0)


def test_liberty_planes_ignore_padding_and_keep_the_mask_last():
    from alphago_jax.features import LIBERTY_PLANES, liberty_planes, with_liberties

    rng = np.random.default_rng(1)
    boards = rng.choice([0, 1, 2], size=(4, 25), p=[0.4, 0.3, 0.3])
    small = liberty_planes(_planes_of(boards, 5))
    padded = _planes_of(boards, 5, pad_to=9)
    big = liberty_planes(padded)
    # Off the 5x5 board is neither a stone nor a liberty: edge chains keep their counts.
    np.testing.assert_array_equal(np.asarray(big)[:, :5, :5], np.asarray(small))
    assert not np.asarray(big)[:, 5:].any() and not np.asarray(big)[:, :, 5:].any()
    x = with_liberties(jnp.asarray(padded))
    assert x.shape[-1] == padded.shape[-1] + LIBERTY_PLANES
    np.testing.assert_array_equal(x[..., -1], padded[..., -1])
    np.testing.assert_array_equal(x[..., : padded.shape[-1] - 1], padded[..., :-1])
