"""Tests for self-play (alphago_jax.selfplay), the replay buffer (alphago_jax.replay) and
a searching agent's match (alphago_jax.arena): value-target signs, resignation, playout caps,
game restarts."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from settings import network, search_settings, selfplay_settings

from alphago_jax import arena
from alphago_jax.features.planes import num_planes
from alphago_jax.replay import buffer as replay
from alphago_jax.rules.coords import interior_points
from alphago_jax.rules.go import BLACK, WHITE, Rules
from alphago_jax.selfplay import selfplay
from alphago_jax.selfplay.selfplay import POLICY_TARGETS

SIZE, HISTORY, BATCH = 5, 2, 4
P = SIZE * SIZE
# Games end by the move cap after 6 moves (or earlier by two passes); komi 0.5: no draws.
RULES = Rules(size=SIZE, komi=0.5, superko=True, suicide=False, max_moves=6, history=HISTORY)


def _settings(**overrides) -> selfplay.SelfPlaySettings:
    # The search plays every move (a hard target is then the move played); random openings
    # have their own test.
    base = dict(
        full=search_settings(num_simulations=4, max_num_considered_actions=4),
        fast=search_settings(num_simulations=2, max_num_considered_actions=2),
        history=HISTORY, temperature_moves=2, resign_threshold=-1.0, no_resign_fraction=0.0,
        random_opening_moves=0,
    )
    return selfplay_settings(**{**base, **overrides})


@pytest.fixture(scope="module")
def net():
    net = network(num_planes(HISTORY), kind="resnet", blocks=1, channels=8)
    return net, net.init(jax.random.key(0))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _run(apply, settings, steps, params, sp, buf, key):
    return selfplay.run(RULES, apply, settings, params, sp, buf, key, steps)


_sample = jax.jit(replay.sample, static_argnums=(2, 3, 4))
_score = jax.jit(RULES.score)
_legal = jax.jit(RULES.legal_mask)
# Resignation on: every untrained value is below 0.99, so a side resigns on its first move
# (unless its game is a no-resign one); half the steps get the full search (playout cap). Both
# resignation tests run these settings: each distinct setting costs a compile of the whole scan.
RESIGN = _settings(resign_threshold=0.99, resign_moves=1, no_resign_fraction=0.0,
                   playout_cap_fraction=0.5)


def _tagged(buf: replay.ReplayBuffer) -> replay.ReplayBuffer:
    """The buffer with each slot's index written in its pass-move policy entry: symmetries keep
    the pass entry in place, so a sampled row tells which slot it came from."""
    slots = jnp.arange(buf.policy.shape[0], dtype=jnp.float32)
    return buf.replace(policy=jnp.asarray(buf.policy).at[:, -1].set(slots))


def _sampled_slots(buf, key, n=512, symmetries=True):
    s = _sample(_tagged(buf), key, n, SIZE, symmetries)
    return np.rint(np.asarray(s.policy[:, -1])).astype(int), s


def _as_np(tree):
    return jax.tree.map(np.asarray, tree)


def _result_of(buf, game_id: int) -> int:
    """The recorded Black-view result of a game (asserting it is recorded)."""
    row = game_id % buf.result_id.shape[0]
    assert int(buf.result_id[row]) == game_id, f"no result for game {game_id}"
    return int(buf.result[row])


# ------------------------------------------------------------------------------ replay buffer


def test_replay_value_targets_have_the_right_sign():
    """Game 0: Black won, game 1: White won, game 2: a draw, game 3: not finished."""
    buf = replay.init(RULES, 32, HISTORY, ownership=False)
    games = jnp.arange(4, dtype=jnp.int32)
    for move in range(4):  # each game: B, W, B, W to move
        colour = BLACK if move % 2 == 0 else WHITE
        boards = jnp.zeros((4, HISTORY, P), jnp.int8).at[:, 0, move].set(1)
        buf = replay.add_positions(
            buf, boards, jnp.full((4,), colour, jnp.int8), jnp.ones((4, P), bool),
            jnp.full((4, P + 1), 1.0 / (P + 1)), games,
        )
    assert int(replay.num_ready(buf)) == 0  # no result yet: nothing to sample
    done = jnp.array([True, True, True, False])
    buf = replay.add_results(buf, done, games, jnp.array([1, -1, 0, 1], jnp.int8))
    assert int(replay.num_ready(buf)) == 12

    slots, s = _sampled_slots(buf, jax.random.key(0))
    game = np.asarray(buf.game_id)[slots]
    to_play = np.asarray(buf.to_play)[slots]
    value = np.asarray(s.value)
    assert set(game.tolist()) == {0, 1, 2}  # never the unfinished game, every finished one
    assert set(to_play.tolist()) == {BLACK, WHITE}
    black_won, white_won, draw = game == 0, game == 1, game == 2
    assert np.all(value[black_won & (to_play == BLACK)] == 1)
    assert np.all(value[black_won & (to_play == WHITE)] == -1)
    assert np.all(value[white_won & (to_play == BLACK)] == -1)
    assert np.all(value[white_won & (to_play == WHITE)] == 1)
    assert np.all(value[draw] == 0)
    # The 'black to move' input plane agrees with the slot (the right row was gathered).
    black_plane = np.asarray(s.x[:, 0, 0, 2 * HISTORY])
    np.testing.assert_array_equal(black_plane, (to_play == BLACK).astype(np.float32))


def test_replay_ring_overwrites_oldest_and_results_are_keyed_by_game():
    buf = replay.init(RULES, 16, HISTORY, ownership=False)
    rows = buf.result_id.shape[0]
    for step in range(5):  # 20 positions into 16 slots: the first 4 are overwritten
        ids = jnp.arange(4, dtype=jnp.int32) + 4 * step
        buf = replay.add_positions(
            buf, jnp.zeros((4, HISTORY, P), jnp.int8), jnp.full((4,), BLACK, jnp.int8),
            jnp.ones((4, P), bool), jnp.zeros((4, P + 1)), ids,
        )
    assert int(buf.ptr) == 20 % 16
    assert sorted(np.asarray(buf.game_id).tolist()) == list(range(4, 20))
    # A game's result row is game_id % rows: a later game in the same row replaces it.
    buf = replay.add_results(buf, jnp.ones(4, bool), jnp.arange(4, 8, dtype=jnp.int32),
                             jnp.ones(4, jnp.int8))
    assert int(replay.num_ready(buf)) == 4
    later = jnp.arange(4, 8, dtype=jnp.int32) + rows
    buf = replay.add_results(buf, jnp.ones(4, bool), later, -jnp.ones(4, jnp.int8))
    assert int(replay.num_ready(buf)) == 0  # games 4..7's results were evicted


# ------------------------------------------------------------------------------ self-play


def test_selfplay_hard_targets_value_signs_and_restarts(net):
    """Real self-play to the move cap, replayed move by move on the host."""
    apply, params = net
    settings = _settings(policy_target="hard")
    steps, cap = 13, 64
    sp = selfplay.init(RULES, BATCH, jax.random.key(1), settings)
    buf = replay.init(RULES, cap, HISTORY, ownership=False)
    sp, buf, stats = _run(apply, settings, steps, params, sp, buf, jax.random.key(2))
    sp, buf, stats = _as_np(sp), _as_np(buf), _as_np(stats)

    n = BATCH * steps
    assert int(stats["positions"]) == n and int(stats["full_searches"]) == steps
    assert int(stats["resigned"]) == 0
    # Hard targets are one-hot.
    policy = buf.policy[:n]
    assert np.all((policy == 0) | (policy == 1)) and np.all(policy.sum(-1) == 1)
    # Finished games restart with fresh ids: every game has ended at least twice by step 13.
    games = int(stats["games"])
    assert games >= 2 * BATCH
    assert int(sp.next_id) == BATCH + games
    assert np.all(sp.game_id >= 2 * BATCH) and len(set(sp.game_id.tolist())) == BATCH
    ids = buf.game_id[:n].reshape(steps, BATCH)
    assert np.all(np.diff(ids, axis=0) >= 0)  # per lockstep column, ids only increase

    expected = np.zeros(cap, np.int8)  # value target of each finished slot
    finished = 0
    for game in np.unique(buf.game_id[:n]):
        slots = np.flatnonzero(buf.game_id == game)
        state = RULES.init()
        for slot in slots:
            np.testing.assert_array_equal(buf.boards[slot], np.asarray(state.boards[:HISTORY]))
            assert buf.to_play[slot] == int(state.to_play)
            legal = np.asarray(_legal(state))
            np.testing.assert_array_equal(buf.legal[slot], legal[:P])
            action = int(np.argmax(buf.policy[slot]))
            state = RULES.play(state, action)  # raises if the target is an illegal move
        row = game % buf.result_id.shape[0]
        if buf.result_id[row] != game:
            assert game in sp.game_id  # still being played
            assert not bool(RULES.is_over(state))
            continue
        finished += 1
        assert bool(RULES.is_over(state))
        result = int(np.sign(float(_score(state))))
        assert buf.result[row] == result, game
        expected[slots] = result * buf.to_play[slots]
    assert finished == games

    slots, s = _sampled_slots(buf, jax.random.key(3))
    ready = np.asarray(replay.ready(buf))
    assert ready[slots].all()
    np.testing.assert_array_equal(np.asarray(s.value), expected[slots].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(s.value), buf.result[buf.game_id[slots] % len(
        buf.result)] * buf.to_play[slots])
    assert set(np.asarray(s.value).tolist()) == {-1.0, 1.0}


def _interior(size: int) -> set[int]:
    return set(interior_points(size).tolist())


def test_opening_action_is_a_uniform_legal_point_off_the_first_line():
    empty = jax.tree.map(lambda x: jnp.stack([x] * 400), RULES.init())
    legal = jax.vmap(RULES.legal_mask)(empty)
    actions = np.asarray(jax.jit(selfplay.opening_action, static_argnums=1)(
        legal, SIZE, jax.random.key(0)))
    counts = np.bincount(actions, minlength=P + 1)
    assert set(np.flatnonzero(counts).tolist()) == _interior(SIZE)
    assert counts.max() < 2 * counts[counts > 0].min()  # 9 points, ~44 draws each
    # Interior points taken: any legal point instead (the 3x3 board's one interior point, B2).
    small = Rules(size=3, komi=0.5, superko=True, suicide=False, history=HISTORY)
    taken = small.play(small.init(), 4)
    games = jax.tree.map(lambda x: jnp.stack([x] * 64), taken)
    legal = jax.vmap(small.legal_mask)(games)
    actions = np.asarray(selfplay.opening_action(legal, 3, jax.random.key(1)))
    assert 4 not in actions and set(actions.tolist()) <= set(range(9))
    assert len(set(actions.tolist())) > 1


def _played(buf, slots) -> list[int]:
    """The moves played from consecutive positions of one game: the point that holds the mover's
    stone in the next position and was empty before (captures only remove the other colour)."""
    moves = []
    for a, b in zip(slots[:-1], slots[1:], strict=True):
        before, after = buf.boards[a, 0], buf.boards[b, 0]
        new = np.flatnonzero((before == 0) & (after == buf.to_play[a]))
        moves.append(int(new[0]) if len(new) else P)
    return moves


@pytest.mark.parametrize("target", POLICY_TARGETS)
def test_random_opening_moves_play_off_the_first_line_then_the_search(net, target):
    """The first two moves of every game are random interior points whatever the search prefers;
    later moves are the search's greedy choice; every position keeps its search target (a hard
    target is the search's move, not the random one)."""
    apply, params = net
    settings = _settings(random_opening_moves=2, temperature_moves=0, selfplay_action="argmax",
                         policy_target=target)
    steps, cap = 13, 64
    sp = selfplay.init(RULES, BATCH, jax.random.key(1), settings)
    buf = replay.init(RULES, cap, HISTORY, ownership=False)
    sp, buf, stats = _run(apply, settings, steps, params, sp, buf, jax.random.key(2))
    buf = _as_np(buf)
    n = BATCH * steps
    np.testing.assert_allclose(buf.policy[:n].sum(-1), 1.0, rtol=1e-5)

    openings, differs = 0, 0
    for game in np.unique(buf.game_id[:n]):
        slots = np.flatnonzero(buf.game_id[:n] == game)
        for slot, move in zip(slots[:-1], _played(buf, slots), strict=True):
            greedy = int(np.argmax(buf.policy[slot]))
            if buf.move_count[slot] < 2:
                assert move in _interior(SIZE), (game, slot, move)
                openings += 1
                differs += move != greedy
            else:
                assert move == greedy, (game, slot, move)
    assert openings >= 2 * BATCH and differs > 0


def test_resignation_ends_games_and_the_resigner_loses(net):
    apply, params = net
    sp = selfplay.init(RULES, BATCH, jax.random.key(1), RESIGN)
    assert not np.asarray(sp.no_resign).any()  # no_resign_fraction=0
    # Games 2 and 3 start after a black pass: White moves (and resigns) first there.
    passed = RULES.step(RULES.init(), RULES.pass_action)
    games = jax.tree.map(lambda *xs: jnp.stack(xs), *([RULES.init()] * 2 + [passed] * 2))
    sp = sp.replace(games=games)
    buf = replay.init(RULES, 64, HISTORY, ownership=False)
    steps = 3
    # Key 0 draws the full search (positions recorded) on steps 1 and 3 of the playout cap.
    sp, buf, stats = _run(apply, RESIGN, steps, params, sp, buf, jax.random.key(0))
    stats = _as_np(stats)

    assert int(stats["games"]) == BATCH * steps
    assert int(stats["resigned"]) == BATCH * steps
    assert int(stats["black_wins"]) == 2  # only games 2 and 3, where White resigned
    assert [_result_of(buf, g) for g in range(4)] == [-1, -1, 1, 1]
    assert all(_result_of(buf, g) == -1 for g in range(4, BATCH * steps))
    np.testing.assert_array_equal(np.asarray(sp.game_id), np.arange(12, 16))
    assert int(sp.next_id) == 16
    # Every recorded position is a resigner's: its value target says the side to move lost.
    positions = int(stats["positions"])
    assert positions == BATCH * int(stats["full_searches"]) > 0, "no full-search step"
    assert int(replay.num_ready(buf)) == positions
    slots, s = _sampled_slots(buf, jax.random.key(0), n=256)
    assert set(np.asarray(buf.to_play)[slots].tolist()) == {BLACK, WHITE}
    assert np.all(np.asarray(s.value) == -1)


def test_no_resign_games_track_would_resign_and_playout_cap(net):
    apply, params = net
    # All games no-resign (no_resign_fraction=1 at the start). The run's own fraction only
    # decides restarted games, and none restarts before the checks below.
    sp = selfplay.init(RULES, BATCH, jax.random.key(1), RESIGN._replace(no_resign_fraction=1.0))
    assert np.asarray(sp.no_resign).all()
    buf = replay.init(RULES, 64, HISTORY, ownership=False)

    # Moves 1-3 (B, W, B): below the threshold each time, but no resignation.
    sp, buf, first = _run(apply, RESIGN, 3, params, sp, buf, jax.random.key(5))
    first = _as_np(first)
    assert int(first["resigned"]) == 0 and int(first["games"]) == 0
    np.testing.assert_array_equal(np.asarray(sp.would_resign), np.full(BATCH, BLACK))
    np.testing.assert_array_equal(np.asarray(sp.low_moves), np.tile([2, 1], (BATCH, 1)))
    assert np.asarray(sp.game_id).tolist() == list(range(BATCH))

    # Moves 4-6: the move cap ends every game; each was a would-be resignation by Black.
    sp, buf, second = _run(apply, RESIGN, 3, params, sp, buf, jax.random.key(6))
    second = _as_np(second)
    assert int(second["resigned"]) == 0 and int(second["games"]) == BATCH
    assert int(second["no_resign_checked"]) == BATCH
    # Black would have resigned every game: a false resignation wherever Black did not lose.
    assert int(second["false_resign"]) == int(second["black_wins"] + second["draws"])
    assert np.asarray(sp.would_resign).tolist() == [0] * BATCH  # reset with the new games
    assert np.asarray(sp.low_moves).tolist() == [[0, 0]] * BATCH

    # Playout cap: positions are written on full-search steps only, a whole batch each.
    full = int(first["full_searches"] + second["full_searches"])
    assert 0 < full < 6, "the test's keys should give both kinds of steps"
    for stats in (first, second):
        assert int(stats["positions"]) == BATCH * int(stats["full_searches"])
    assert int(buf.ptr) == BATCH * full
    assert int(np.sum(np.asarray(buf.game_id) >= 0)) == BATCH * full


# ------------------------------------------------------------------------------ matches


def test_play_match_alternates_colours(net):
    apply, params = net
    # Komi 30.5 on 5x5: White wins every game, so the outcome shows who played which colour.
    rules = Rules(size=SIZE, komi=30.5, superko=True, suicide=False, max_moves=8,
                  history=HISTORY)
    settings = search_settings(num_simulations=2, max_num_considered_actions=2)
    agent = arena.SearchPlayer("agent", apply, params, settings, HISTORY)
    res = arena.play_match(rules, agent, arena.RandomPlayer(), 6, jax.random.key(0))
    points = [g.a_points for g in res.games]
    assert set(points) <= {0.0, 0.5, 1.0}
    # Agent A is Black in even games (loses) and White in odd ones (wins).
    assert points == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert all(g.winner == WHITE and g.reason == "score" for g in res.games)
    moves = np.array([len(g.moves) for g in res.games])
    assert np.all((moves >= 1) & (moves <= 8))
    summary = res.tally.as_dict()
    assert (summary["games"], summary["wins"], summary["losses"], summary["draws"]) == (6, 3, 3, 0)
    assert summary["win_rate"] == 0.5
    assert summary["ci_low"] < 0.5 < summary["ci_high"]
