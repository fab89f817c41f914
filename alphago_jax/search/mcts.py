"""mctx search over the real rules (AlphaZero: the simulator is perfect).

The per-node embedding is the game state without its table of earlier positions: that table
(uint32[2, S], the bulk of a state) never changes during one search, so it travels once per root in
mctx's untouched `params` argument instead of once per tree node. Superko inside the tree is
therefore checked against the positions before the root (not those along the simulated path).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import mctx

from alphago_jax.features.planes import planes_from
from alphago_jax.nets.heads import scalar_value
from alphago_jax.rules.go import GoState, Rules

__all__ = [
    "ACTION_SELECTIONS", "ALGORITHMS", "SearchResult", "SearchSettings", "evaluate", "eye_fills",
    "make_recurrent_fn", "node_bytes", "policy_value", "root_passes", "run_policy", "run_search",
    "score_term", "search", "select_action", "state_features", "strip", "utility", "won_by_passing",
]

_NEG = -1e9  # prior logit of illegal moves (finite: mctx subtracts logits)


ALGORITHMS = ("gumbel", "puct")
"""Search algorithms: 'gumbel' (mctx.gumbel_muzero_policy) or 'puct' (mctx.muzero_policy)."""

ACTION_SELECTIONS = ("search", "argmax")
"""How a move is chosen from a finished search (`select_action`)."""


class SearchSettings(NamedTuple):
    """Static search hyper-parameters (hashable; a jit static argument).

    Built from a config with `TrainConfig.search_settings`, which documents each field under its
    own name; nothing here has a default, so the config is the one source of them.

    Attributes:
      algorithm: one of `ALGORITHMS`.
      num_simulations: simulations per search.
      max_num_considered_actions: Gumbel root actions for sequential halving.
      gumbel_scale: Gumbel noise scale (0 = deterministic).
      value_scale, maxvisit_init, rescale_values: Gumbel's completed-Q transform.
      dirichlet_alpha, dirichlet_fraction, pb_c_init: PUCT root noise and exploration.
      score_utility: weight w of the score in the utility the search maximises (see `utility`).
      no_eye_fill: never fill one's own single-point eye (see `eye_fills`).
      pass_when_won: at the root, pass when it ends the game with a win (see `won_by_passing`).
      pass_only_to_win: at the root, pass only when it ends the game with a win or no other
        move is legal (`TrainConfig.play_cleanup`, the evaluated agent's).
    """

    algorithm: str
    num_simulations: int
    max_num_considered_actions: int
    gumbel_scale: float
    value_scale: float
    maxvisit_init: float
    rescale_values: bool
    dirichlet_alpha: float
    dirichlet_fraction: float
    pb_c_init: float
    score_utility: float
    no_eye_fill: bool
    pass_when_won: bool
    pass_only_to_win: bool


class SearchResult(NamedTuple):
    """Outputs of one batched search.

    Attributes:
      action: int32[B] the search's own action choice.
      policy: float32[B, A] the improved policy (Gumbel) or visit distribution (PUCT).
      value: float32[B] searched root value for the side to move (see `policy_value`).
      prior_value: float32[B] the network's value at the root.
      legal: bool[B, A] the root's legal moves.
      visits: int32[B, A] root visit counts per action (what the search looked at).
    """

    action: chex.Array
    policy: chex.Array
    value: chex.Array
    prior_value: chex.Array
    legal: chex.Array
    visits: chex.Array


def strip(state: GoState) -> GoState:
    """The state as a tree node holds it: without the table of earlier positions."""
    return state.replace(seen=state.seen[..., :0])


def state_features(rules: Rules, states: GoState, history: int):
    """Network inputs of a batch of states: (x float32[B, S, S, 2k+3], legal bool[B, A])."""
    legal = jax.vmap(rules.legal_mask)(states)
    x = jax.vmap(planes_from, in_axes=(0, 0, 0, None))(
        states.boards[:, :history], states.to_play, legal[:, : rules.num_points], rules.size
    )
    return x, legal


def score_term(margin: chex.Array, size: int) -> chex.Array:
    """A mover's area margin (komi included) squashed into (-1, 1): (2 / pi) atan(margin / size).

    A margin of one board side counts half; the squashing keeps the term bounded like a value.
    """
    return (2.0 / jnp.pi) * jnp.arctan(margin / size)


def utility(value: chex.Array, score: chex.Array, weight: float) -> chex.Array:
    """What the search maximises: (1 - w) * value + w * score (both in [-1, 1]).

    With w = 0 it is the value itself, so a search without a score utility is unchanged.
    """
    if not weight:
        return value
    return (1.0 - weight) * value + weight * score


def eye_fills(rules: Rules, states: GoState) -> chex.Array:
    """bool[B, A]: the empty points whose every on-board neighbour is a stone of the side to move
    (its single-point eyes; the edge counts as its own). Filling one never gains area under
    Tromp-Taylor and can only lose the group, which a player that passes with a won position
    never needs; an agent whose value is saturated plays them anyway (docs/diagnosis.md).
    """
    n = rules.size
    board = states.boards[:, 0].reshape(-1, n, n)
    own = jnp.pad(board == states.to_play[:, None, None], ((0, 0), (1, 1), (1, 1)),
                  constant_values=True)
    surrounded = own[:, :-2, 1:-1] & own[:, 2:, 1:-1] & own[:, 1:-1, :-2] & own[:, 1:-1, 2:]
    eyes = ((board == 0) & surrounded).reshape(-1, n * n)
    return jnp.pad(eyes, ((0, 0), (0, 1)))  # pass is never an eye


def won_by_passing(rules: Rules, states: GoState) -> chex.Array:
    """bool[B]: the opponent has just passed and the Tromp-Taylor count favours the side to move,
    so a pass ends the game with its win (an exact win, not a guess)."""
    ended = states.passes > 0
    score, _ = jax.vmap(rules.outcome)(states, ended)
    return ended & (score * states.to_play > 0)


def root_passes(rules: Rules, states: GoState, legal: chex.Array,
                settings: SearchSettings) -> chex.Array:
    """The root's legal moves bool[B, A] after the pass rules: `pass_when_won` leaves only the
    pass where it wins (`won_by_passing`); `pass_only_to_win` removes the pass unless it wins or
    no other move is legal. Either rule floods each game's count once per search."""
    if not (settings.pass_when_won or settings.pass_only_to_win):
        return legal
    won = won_by_passing(rules, states)
    if settings.pass_when_won:
        legal = jnp.where(won[:, None], jnp.zeros_like(legal).at[:, -1].set(True), legal)
    if settings.pass_only_to_win:
        keep = won | ~jnp.any(legal[:, :-1], axis=1)
        legal = legal.at[:, -1].set(legal[:, -1] & keep)
    return legal


def evaluate(rules: Rules, apply, net_params, states: GoState, history: int,
             score_utility: float = 0.0, no_eye_fill: bool = False):
    """Network evaluation of a batch of states.

    With `score_utility` > 0 the value is `utility` of the win/loss value and the ownership
    head's margin for the side to move (the sum of its ownership minus komi for Black, plus komi
    for White); the network must have an ownership head. With `no_eye_fill` the side to move's
    single-point eyes (`eye_fills`) are not among the returned legal moves (the network's input
    is unchanged).

    Returns:
      (logits float32[B, A] with illegal moves at -1e9, value float32[B], legal bool[B, A]).
    """
    x, legal = state_features(rules, states, history)
    if no_eye_fill:
        legal = legal & ~eye_fills(rules, states)
    out = apply(net_params, x)
    logits = jnp.where(legal, out.policy_logits.astype(jnp.float32), _NEG)
    value = scalar_value(out.value_logits)
    if score_utility:
        margin = jnp.sum(out.ownership, axis=(1, 2)) - rules.komi * states.to_play
        value = utility(value, score_term(margin, rules.size), score_utility)
    return logits, value, legal


def make_recurrent_fn(rules: Rules, apply, history: int, score_utility: float = 0.0,
                      no_eye_fill: bool = False):
    """mctx recurrent function stepping the real rules.

    `params` is (net_params, seen, num_seen) with the root states' position tables.
    Rewards are the Tromp-Taylor result for the player who moved, at the move that ends the game
    (discount 0 and value 0 from there on); otherwise discount -1 (the other player moves next).
    With `score_utility` the reward and the values are `utility`s: the exact margin at the end,
    the ownership head's elsewhere (see `evaluate`).
    """

    def recurrent_fn(params, rng_key, action, embedding: GoState):
        del rng_key
        net_params, seen, num_seen = params
        state = embedding.replace(seen=seen, num_seen=num_seen)
        was_over = jax.vmap(rules.is_over)(state)
        nxt = jax.vmap(rules.step)(state, action)
        over = jax.vmap(rules.is_over)(nxt)
        ends_now = over & ~was_over
        # Scoring floods the board: `outcome` pays for the flood only in the games that end here
        # (no lax.cond, which would run the flood on every simulation once vmapped).
        score, _ = jax.vmap(rules.outcome)(nxt, ends_now)
        mover_score = score * state.to_play
        reward = utility(jnp.sign(mover_score), score_term(mover_score, rules.size), score_utility)
        reward = jnp.where(ends_now, reward, 0.0)
        logits, value, _ = evaluate(rules, apply, net_params, nxt, history, score_utility,
                                    no_eye_fill)
        out = mctx.RecurrentFnOutput(
            reward=reward.astype(jnp.float32),
            discount=jnp.where(over, 0.0, -1.0).astype(jnp.float32),
            prior_logits=logits,
            value=jnp.where(over, 0.0, value).astype(jnp.float32),
        )
        return out, strip(nxt)

    return recurrent_fn


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def search(
    rules: Rules, apply, history: int, settings: SearchSettings, net_params, states, key
) -> SearchResult:
    """One batched search from `states` (GoState with batch axis B)."""
    return run_search(rules, apply, history, settings, net_params, states, key)


def run_policy(
    rules: Rules, apply, history: int, settings: SearchSettings, net_params, states, key
) -> tuple[mctx.PolicyOutput, chex.Array, chex.Array, chex.Array]:
    """The mctx search itself (call inside jit): the one place an algorithm is dispatched.

    Returns:
      (mctx's PolicyOutput with its search tree, root prior logits float32[B, A], root network
      value float32[B], root legal moves bool[B, A]).
    """
    logits, value, legal = evaluate(rules, apply, net_params, states, history,
                                    settings.score_utility, settings.no_eye_fill)
    legal = root_passes(rules, states, legal, settings)
    logits = jnp.where(legal, logits, _NEG)
    root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=strip(states))
    params = (net_params, states.seen, states.num_seen)
    recurrent_fn = make_recurrent_fn(rules, apply, history, settings.score_utility,
                                     settings.no_eye_fill)
    if settings.algorithm == "gumbel":
        qtransform = functools.partial(
            mctx.qtransform_completed_by_mix_value,
            value_scale=settings.value_scale,
            maxvisit_init=settings.maxvisit_init,
            rescale_values=settings.rescale_values,
        )
        out = mctx.gumbel_muzero_policy(
            params, key, root, recurrent_fn, settings.num_simulations,
            invalid_actions=~legal,
            # Sequential halving cannot consider more root actions than the board has.
            max_num_considered_actions=min(settings.max_num_considered_actions,
                                           rules.num_actions),
            gumbel_scale=settings.gumbel_scale,
            qtransform=qtransform,
        )
    elif settings.algorithm == "puct":
        out = mctx.muzero_policy(
            params, key, root, recurrent_fn, settings.num_simulations,
            invalid_actions=~legal,
            dirichlet_fraction=settings.dirichlet_fraction,
            dirichlet_alpha=settings.dirichlet_alpha,
            pb_c_init=settings.pb_c_init,
        )
    else:
        raise ValueError(f"unknown search algorithm {settings.algorithm!r}; one of {ALGORITHMS}")
    return out, logits, value, legal


def run_search(
    rules: Rules, apply, history: int, settings: SearchSettings, net_params, states, key
) -> SearchResult:
    """Like `search`, but not jitted itself: call it inside a larger compiled function."""
    out, _, value, legal = run_policy(rules, apply, history, settings, net_params, states, key)
    return SearchResult(
        action=out.action.astype(jnp.int32),
        policy=out.action_weights.astype(jnp.float32),
        value=policy_value(out),
        prior_value=value,
        legal=legal,
        visits=out.search_tree.children_visits[:, mctx.Tree.ROOT_INDEX].astype(jnp.int32),
    )


def select_action(result: SearchResult, algorithm: str, selection: str) -> chex.Array:
    """The move a player makes from a finished search: the one action-selection rule.

    Args:
      result: a batched `SearchResult`.
      algorithm: the search algorithm that produced it (`SearchSettings.algorithm`).
      selection: 'search' -- the search's own choice for Gumbel (sequential halving's winner,
        whose Gumbel noise varies the games), the most visited move for PUCT (mctx samples
        PUCT's action from the visit counts, which would be a random move in a match);
        'argmax' -- the argmax of the improved policy (Gumbel) or of the visit counts (PUCT),
        the same rule for both algorithms. Self-play after its temperature moves and every
        match player go through here (`TrainConfig.selfplay_action`, `eval_action`).

    Returns:
      int32[B] actions.
    """
    greedy = jnp.argmax(result.policy, axis=-1).astype(jnp.int32)
    if selection == "argmax":
        return greedy
    if selection != "search":
        raise ValueError(f"action selection must be one of {ACTION_SELECTIONS}, got {selection!r}")
    return result.action if algorithm == "gumbel" else greedy


def policy_value(out: mctx.PolicyOutput) -> chex.Array:
    """The searched root value: the search policy's average Q over the visited root actions.

    mctx's root node value averages every simulation's return, and Gumbel's sequential halving
    spends many simulations on actions it then discards, so that average is biased towards the
    value of weak moves. Weighting each visited action's Q by the improved policy (Gumbel) or the
    visit distribution (PUCT) estimates the value of playing the search's policy instead.

    Returns:
      float32[B] for the side to move; the root node value where no action was visited.
    """
    summary = out.search_tree.summary()
    w = jnp.where(summary.visit_counts > 0, out.action_weights, 0.0)
    total = jnp.sum(w, axis=-1)
    value = jnp.sum(w * summary.qvalues, axis=-1) / jnp.maximum(total, 1e-12)
    return jnp.where(total > 0, value, summary.value).astype(jnp.float32)


def node_bytes(rules: Rules, num_actions: int | None = None) -> dict[str, int]:
    """Bytes one mctx tree node costs: the embedding plus mctx's per-node arrays.

    mctx keeps per node: child visits (int32), child rewards, discounts, values, prior logits
    (float32, each [A]), node visits/values/parents/action-from-parent (scalars)."""
    a = rules.num_actions if num_actions is None else num_actions
    emb = strip(rules.init())
    embedding = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(emb))
    per_action = a * (4 + 4 + 4 + 4 + 4 + 4)  # child index, visits, reward, discount, value, logits
    scalars = 4 * 5  # node visits, raw value, value, parent, action from parent
    tree = per_action + scalars
    return {"embedding": embedding, "tree": tree, "total": embedding + tree}
