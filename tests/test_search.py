"""Tests for alphago_jax.search.mcts: the search over the real rules finds forced wins, its
policies are distributions over legal moves, and the node-size estimate is sane.

The network is untrained: what makes the capture the search's choice is the Tromp-Taylor reward at
the move that ends the game (the move cap), so a wrong reward sign or perspective would make the
search pick a losing move instead.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from settings import network, search_settings
from settings import network as make_network

from alphago_jax.features.planes import num_planes
from alphago_jax.rules.go import BLACK, WHITE, Rules
from alphago_jax.search.mcts import SearchSettings, node_bytes, search

SIZE, HISTORY, BATCH = 5, 2, 4
# B (3,0), W (4,0), B (3,1), W (4,1): the two white stones in the bottom-left corner have one
# liberty left, at (4,2); Black is to move at move 4.
SETUP = [(3, 0), (4, 0), (3, 1), (4, 1)]
CAPTURE = 4 * SIZE + 2
# Black's move ends the game (move cap 5). Komi 7.5: the capture leaves Black the whole board
# (25 - 7.5 > 0); any other move leaves 3 black stones, 2 white and neutral empty points
# (1 - 7.5 < 0), and so does passing.
ONE_PLY = Rules(size=SIZE, komi=7.5, superko=True, suicide=False, max_moves=5, history=HISTORY)
# Black moves, White replies, and the game ends (move cap 6). Komi 0.5: after the capture any
# white reply leaves Black ahead (3 stones vs 1, or the whole board after a pass); after any
# other black move, a white stone anywhere makes it 3 vs 3 with neutral empty points: -0.5.
TWO_PLY = Rules(size=SIZE, komi=0.5, superko=True, suicide=False, max_moves=6, history=HISTORY)

# Gumbel without root noise: sequential halving over all 22 legal moves, deterministic. (With
# gumbel_scale=1 and 32 simulations the noise of a losing move beats the capture's completed-Q
# bonus about one time in ten: that is Gumbel's exploration, not a search error.)
GUMBEL = search_settings(algorithm="gumbel", num_simulations=32, max_num_considered_actions=32,
                        gumbel_scale=0.0)
PUCT = search_settings(algorithm="puct", num_simulations=32)  # with Dirichlet root noise
GUMBEL_2 = GUMBEL._replace(num_simulations=128)


@pytest.fixture(scope="module")
def net():
    net = network(num_planes(HISTORY), kind="resnet", blocks=1, channels=8)
    return net, net.init(jax.random.key(0))


def _position(rules: Rules, moves):
    state = rules.init()
    for m in moves:
        state = rules.play(state, m if isinstance(m, int) else m[0] * SIZE + m[1])
    return state


def _batch(states):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *states)


def _chosen(settings: SearchSettings, result) -> np.ndarray:
    """What the agent plays: Gumbel's own action, or PUCT's most visited move."""
    if settings.algorithm == "gumbel":
        return np.asarray(result.action)
    return np.asarray(jnp.argmax(result.policy, axis=-1))


@functools.partial(jax.jit, static_argnums=0)
def _expand(rules: Rules, states):
    """GoState[N] -> GoState[N * A]: every action played from every state (illegal: a pass)."""
    actions = jnp.arange(rules.num_actions)
    kids = jax.vmap(lambda s: jax.vmap(rules.step, in_axes=(None, 0))(s, actions))(states)
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), kids)


@functools.partial(jax.jit, static_argnums=0)
def _judge(rules: Rules, states):
    """(is_over bool[N], score float32[N], legal bool[N, A]) of GoState[N]."""
    return (jax.vmap(rules.is_over)(states), jax.vmap(rules.score)(states),
            jax.vmap(rules.legal_mask)(states))


def test_one_ply_position_is_what_the_test_claims():
    state = _position(ONE_PLY, SETUP)
    over, score, legal = (np.asarray(x) for x in _judge(ONE_PLY, _batch([state])))
    legal = legal[0]
    assert int(legal.sum()) == 22 and legal[CAPTURE]
    assert int(ONE_PLY.to_play(state)) == BLACK
    assert int(state.move_count) == ONE_PLY.move_cap - 1  # Black's move is the last one
    assert not over[0] and score[0] < 0  # Black is losing now
    over, score, _ = (np.asarray(x) for x in _judge(ONE_PLY, _expand(ONE_PLY, _batch([state]))))
    assert over[legal].all()
    assert np.flatnonzero(legal & (score > 0)).tolist() == [CAPTURE]  # the only winning move


def test_two_ply_position_is_what_the_test_claims():
    state = _position(TWO_PLY, SETUP)
    a = TWO_PLY.num_actions
    legal = np.asarray(_judge(TWO_PLY, _batch([state]))[2][0])
    assert int(TWO_PLY.to_play(state)) == BLACK and int(state.move_count) == 4
    kids = _expand(TWO_PLY, _batch([state]))
    kid_over, _, kid_legal = (np.asarray(x) for x in _judge(TWO_PLY, kids))
    assert not kid_over[legal].any()
    grand_over, grand_score, _ = _judge(TWO_PLY, _expand(TWO_PLY, kids))
    over, score = np.asarray(grand_over).reshape(a, a), np.asarray(grand_score).reshape(a, a)
    assert over[legal][kid_legal[legal]].all()  # White's reply ends every game
    # Black's result after White's best reply, for each black move.
    worst = np.where(kid_legal, score, np.inf).min(axis=1)
    assert np.flatnonzero(legal & (worst > 0)).tolist() == [CAPTURE]


@pytest.mark.parametrize(
    "rules, settings",
    # (Two-ply PUCT passes too; left out to save a compile of the whole search.)
    [(ONE_PLY, GUMBEL), (ONE_PLY, PUCT), (TWO_PLY, GUMBEL_2)],
    ids=["one-ply-gumbel", "one-ply-puct", "two-ply-gumbel"],
)
def test_search_finds_the_capture(net, rules, settings):
    apply, params = net
    state = _position(rules, SETUP)
    n_legal = int(_judge(rules, _batch([state]))[2].sum())
    assert settings.num_simulations >= n_legal
    if settings.algorithm == "gumbel":
        assert settings.max_num_considered_actions >= n_legal  # every legal move is tried
    states = _batch([state] * BATCH)  # same position, different root noise per row (PUCT)
    for seed in range(2):
        result = search(rules, apply, HISTORY, settings, params, states, jax.random.key(seed))
        assert _chosen(settings, result).tolist() == [CAPTURE] * BATCH
        # The improved policy / visit distribution also puts its largest weight on it.
        assert np.argmax(np.asarray(result.policy), axis=-1).tolist() == [CAPTURE] * BATCH


def test_capture_search_value_sign(net):
    """PUCT's root value concentrates on the winning move: positive for the winning side."""
    apply, params = net
    states = _batch([_position(ONE_PLY, SETUP)] * BATCH)
    result = search(ONE_PLY, apply, HISTORY, PUCT, params, states, jax.random.key(0))
    assert np.all(np.asarray(result.value) > 0)


def test_gumbel_root_value_follows_the_improved_policy(net):
    """21 of the 22 legal moves lose, and sequential halving visits them all: the average of all
    simulations (mctx's root node value) is negative, but the value of the search's policy,
    which puts most of its weight on the winning capture, is clearly positive."""
    apply, params = net
    states = _batch([_position(ONE_PLY, SETUP)] * BATCH)
    result = search(ONE_PLY, apply, HISTORY, GUMBEL, params, states, jax.random.key(0))
    assert np.all(np.asarray(result.value) > 0.5), result.value


def _policy_positions():
    """Positions of the one-ply rules (at most 4 moves: the cap is 5) with varied legality."""
    init = ONE_PLY.init()
    # White stones at (0,1) and (1,0): Black at (0,0) would be a single-stone suicide.
    suicide = _position(ONE_PLY, [(2, 2), (0, 1), (3, 3), (1, 0)])
    white_to_move = _position(ONE_PLY, [(2, 2)])
    over = ONE_PLY.play(_position(ONE_PLY, SETUP), CAPTURE)  # the game has ended
    return [init, suicide, white_to_move, over]


@pytest.mark.parametrize("settings", [GUMBEL, PUCT], ids=["gumbel", "puct"])
def test_policy_is_a_distribution_over_legal_moves(net, settings):
    apply, params = net
    positions = _policy_positions()
    assert int(ONE_PLY.to_play(positions[2])) == WHITE
    assert bool(ONE_PLY.is_over(positions[3]))
    states = _batch(positions)
    result = search(ONE_PLY, apply, HISTORY, settings, params, states, jax.random.key(3))
    policy = np.asarray(result.policy)
    legal = np.asarray(_judge(ONE_PLY, states)[2])
    assert not legal[1, 0]  # the suicide point
    np.testing.assert_array_equal(np.asarray(result.legal), legal)
    assert policy.shape == (BATCH, ONE_PLY.num_actions)
    np.testing.assert_allclose(policy.sum(axis=-1), 1.0, atol=1e-5)
    assert np.all(policy >= 0)
    assert np.all(policy[~legal] == 0), "illegal moves got search weight"
    assert policy[1, 0] == 0 and policy[1, 2 * SIZE + 2] == 0  # suicide point, occupied point
    action = np.asarray(result.action)
    assert legal[np.arange(BATCH), action].all()
    # Only passing is legal once the game is over.
    np.testing.assert_allclose(policy[3], np.eye(ONE_PLY.num_actions)[ONE_PLY.pass_action])
    # The opening position spreads weight over many moves (the search is not degenerate).
    assert np.count_nonzero(policy[0]) > 1
    assert np.all(np.abs(np.asarray(result.value)) <= 1 + 1e-6)
    assert np.all(np.abs(np.asarray(result.prior_value)) <= 1 + 1e-6)


def test_node_bytes():
    small, big = node_bytes(Rules(size=9)), node_bytes(Rules(size=19))
    for nodes in (small, big):
        assert nodes["embedding"] > 0 and nodes["tree"] > 0
        assert nodes["total"] == nodes["embedding"] + nodes["tree"]
    assert big["total"] > small["total"]
    assert big["embedding"] > small["embedding"] and big["tree"] > small["tree"]
    # The tree node holds no table of earlier positions: superko costs nothing per node, even
    # though the superko state's table is max_moves + 1 entries long.
    assert node_bytes(Rules(size=9, superko=True))["embedding"] == node_bytes(
        Rules(size=9, superko=False)
    )["embedding"]
    assert node_bytes(Rules(size=9), num_actions=10)["tree"] < small["tree"]


@pytest.mark.parametrize("settings", [GUMBEL, PUCT], ids=["gumbel", "puct"])
def test_root_visits_count_every_simulation(net, settings):
    """`SearchResult.visits` are the root's visit counts: each simulation enters the tree through
    one root action, so they sum to the simulations, and only legal actions get any."""
    apply, params = net
    states = _batch([_position(ONE_PLY, SETUP)] * BATCH)
    result = search(ONE_PLY, apply, HISTORY, settings, params, states, jax.random.key(5))
    visits = np.asarray(result.visits)
    assert visits.dtype == np.int32 and visits.shape == (BATCH, ONE_PLY.num_actions)
    np.testing.assert_array_equal(visits.sum(axis=-1), settings.num_simulations)
    assert not visits[~np.asarray(result.legal)].any()
    assert np.all(visits >= 0)
    if settings.algorithm == "gumbel":  # sequential halving visits every considered action
        assert np.all(np.count_nonzero(visits, axis=-1) >= settings.max_num_considered_actions // 2)


# ---------------------------------------------------------------------- score utility
def test_utility_without_weight_is_the_value():
    from alphago_jax.search.mcts import score_term, utility

    v = jnp.array([-1.0, 0.3, 1.0])
    assert utility(v, jnp.ones(3), 0.0) is v
    np.testing.assert_allclose(utility(v, jnp.zeros(3), 0.25), 0.75 * v)
    # A margin of one board side counts half; the term is odd and bounded.
    np.testing.assert_allclose(score_term(jnp.array([7.0, -7.0, 1e6]), 7), [0.5, -0.5, 1.0],
                               atol=1e-5)


def test_terminal_reward_carries_the_margin():
    """At the end of a game the reward is (1 - w) sign + w score_term of the exact margin."""
    from alphago_jax.search.mcts import make_recurrent_fn, score_term, strip

    network = make_network(num_planes(HISTORY), kind="resnet", blocks=1, channels=8,
                           ownership=True)
    params = network.init(jax.random.key(0))
    state = _position(ONE_PLY, SETUP)
    states = _batch([state, state])
    actions = jnp.array([CAPTURE, SIZE * SIZE], jnp.int32)
    # The capture leaves Black the whole board; a pass, 2 stones each and neutral empty points.
    margins = np.array([25 - 7.5, 0 - 7.5])
    for w in (0.0, 0.3):
        fn = make_recurrent_fn(ONE_PLY, network, HISTORY, w)
        out, _ = fn((params, states.seen, states.num_seen), None, actions, strip(states))
        want = (1 - w) * np.sign(margins) + w * np.asarray(score_term(jnp.array(margins), SIZE))
        np.testing.assert_allclose(out.reward, want, rtol=1e-5)


def test_evaluate_mixes_the_ownership_margin():
    from alphago_jax.nets.heads import scalar_value
    from alphago_jax.search.mcts import evaluate, score_term, state_features

    network = make_network(num_planes(HISTORY), kind="resnet", blocks=1, channels=8,
                           ownership=True)
    params = network.init(jax.random.key(1))
    black_to_move = _position(TWO_PLY, SETUP)
    white_to_move = TWO_PLY.step(black_to_move, CAPTURE)
    states = _batch([black_to_move, white_to_move])
    out = network(params, state_features(TWO_PLY, states, HISTORY)[0])
    margin = np.asarray(out.ownership).sum(axis=(1, 2)) - 0.5 * np.array([1, -1])
    w = 0.4
    want = (1 - w) * np.asarray(scalar_value(out.value_logits)) + w * np.asarray(
        score_term(jnp.array(margin), SIZE))
    _, value, _ = evaluate(TWO_PLY, network, params, states, HISTORY, w)
    np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-6)


def test_score_utility_search_still_finds_the_capture(net):
    network = make_network(num_planes(HISTORY), kind="resnet", blocks=1, channels=8,
                           ownership=True)
    params = network.init(jax.random.key(0))
    states = _batch([_position(ONE_PLY, SETUP)] * BATCH)
    out = search(ONE_PLY, network, HISTORY, GUMBEL._replace(score_utility=0.5), params, states,
                 jax.random.key(0))
    assert (np.asarray(out.action) == CAPTURE).all()
    assert (np.asarray(out.value) > 0.5).all()


def test_score_utility_needs_the_ownership_head():
    from alphago_jax.config import ConfigError, TrainConfig

    with pytest.raises(ConfigError, match="score_utility > 0 needs ownership=true"):
        TrainConfig(score_utility=0.2).validate()
    TrainConfig(score_utility=0.2, ownership=True).validate()


# ---------------------------------------------------------------------- eye fills, passing to win
def test_eye_fills_are_the_movers_single_point_eyes():
    from alphago_jax.search.mcts import eye_fills

    rules = Rules(size=SIZE, komi=7.5, superko=True, suicide=False, max_moves=None,
                  history=HISTORY)
    # Black surrounds the corner point (0, 0) and the edge point (0, 2); White plays elsewhere.
    state = _position(rules, [(0, 1), (4, 4), (1, 0), (4, 3), (1, 2), (3, 4), (0, 3), (4, 2)])
    assert int(state.to_play) == BLACK
    eyes = np.asarray(eye_fills(rules, _batch([state]))[0])
    assert set(np.flatnonzero(eyes)) == {0, 2}  # (0, 0) and (0, 2); (1, 1) has an empty side
    white = rules.step(state, SIZE * SIZE)  # Black passes: the same points are not White's eyes
    assert not np.asarray(eye_fills(rules, _batch([white]))[0]).any()
    # The search never plays them, and the policy gives them nothing.
    net = network(num_planes(HISTORY), kind="resnet", blocks=1, channels=8)
    params = net.init(jax.random.key(0))
    out = search(rules, net, HISTORY, GUMBEL._replace(no_eye_fill=True), params,
                 _batch([state] * BATCH), jax.random.key(1))
    assert not np.isin(np.asarray(out.action), [0, 2]).any()
    assert float(np.asarray(out.policy)[:, [0, 2]].sum()) == 0.0


def test_pass_when_won_passes_exactly_when_a_pass_wins():
    from alphago_jax.search.mcts import won_by_passing

    rules = Rules(size=SIZE, komi=0.5, superko=True, suicide=False, max_moves=None,
                  history=HISTORY)
    net = network(num_planes(HISTORY), kind="resnet", blocks=1, channels=8)
    params = net.init(jax.random.key(0))
    black_ahead = _position(rules, [(2, 2), SIZE * SIZE, (1, 1)])  # White to move
    white_passed = rules.step(black_ahead, SIZE * SIZE)  # Black to move, 2 stones, ahead
    not_passed = _position(rules, [(2, 2), (1, 1)])
    states = _batch([white_passed, not_passed])
    np.testing.assert_array_equal(won_by_passing(rules, states), [True, False])
    out = search(rules, net, HISTORY, GUMBEL._replace(pass_when_won=True), params, states,
                 jax.random.key(0))
    assert int(out.action[0]) == SIZE * SIZE
    assert float(out.policy[0, SIZE * SIZE]) == 1.0


def test_pass_only_to_win_keeps_the_pass_only_where_it_wins_or_nothing_else_is_legal():
    from alphago_jax.config import TrainConfig
    from alphago_jax.search.mcts import root_passes

    rules = Rules(size=SIZE, komi=0.5, superko=True, suicide=False, max_moves=None,
                  history=HISTORY)
    black_ahead = _position(rules, [(2, 2), SIZE * SIZE, (1, 1)])  # White to move, behind
    white_passed = rules.step(black_ahead, SIZE * SIZE)  # Black to move: a pass wins
    white_behind = _position(rules, [(2, 2), SIZE * SIZE, (3, 3), (1, 1), SIZE * SIZE])
    not_passed = _position(rules, [(2, 2), (1, 1)])  # Black to move, White has not passed
    states = _batch([white_passed, white_behind, not_passed, not_passed])
    legal = np.ones((4, SIZE * SIZE + 1), bool)
    legal[3, :-1] = False  # nothing but the pass is legal in the last game
    rule = GUMBEL._replace(pass_only_to_win=True)
    kept = np.asarray(root_passes(rules, states, jnp.asarray(legal), rule))
    assert int(white_behind.to_play) == WHITE and int(white_passed.to_play) == BLACK
    np.testing.assert_array_equal(kept[:, -1], [True, False, False, True])
    np.testing.assert_array_equal(kept[:, :-1], legal[:, :-1])  # points are untouched
    # The search gives the removed pass nothing; play settings carry the rule, self-play's not.
    net = network(num_planes(HISTORY), kind="resnet", blocks=1, channels=8)
    out = search(rules, net, HISTORY, rule, net.init(jax.random.key(0)), states,
                 jax.random.key(0))
    assert float(np.asarray(out.policy)[1:3, -1].sum()) == 0.0
    assert TrainConfig(play_cleanup=True).eval_settings().pass_only_to_win
    assert not TrainConfig(play_cleanup=True).search_settings().pass_only_to_win
    assert not TrainConfig().eval_settings().pass_only_to_win
