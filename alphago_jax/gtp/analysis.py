"""Live analysis for the GTP engine: searches in rounds, root statistics merged over rounds, and
the output formats GUIs parse.

A round is one batched search of the analysed position (`search_round`): ``batch`` independent
copies of the root, each with its own key, searched at once (on an accelerator the copies cost
about as much as one). Rounds do not share a tree (mctx builds a fresh tree per search), so
`Analysis` merges them the way root-parallel MCTS does: visits add up, a move's value is the
visit-weighted mean of its Q over the searches that visited it, and its principal variation is
the one from the search that visited it most.

Output formats (both one line per update, every candidate move on it, each starting with
``info``), as Leela Zero and KataGo publish them (KataGo's docs/GTP_Extensions.md describes
both) and as Sabaki and Lizzie parse them:

* ``lz-analyze``: ``info move D4 visits 12 winrate 5123 prior 1234 lcb 4803 order 0 pv D4 C3``
  with winrate, prior and lcb as integers in 1/10000;
* ``kata-analyze``: ``info move D4 visits 12 utility 0.0246 winrate 0.5123 prior 0.1234
  lcb 0.4803 utilityLcb -0.0394 order 0 pv D4 C3``, floats, then ``ownership`` and one value per
  point (row by row from the top left, for the side to move) when asked for. Our networks have
  no score head, so the score fields (scoreMean, scoreLead, ...) are left out.

Values are for the player the analysis is for: winrate = (1 + value) / 2 with value = P(win) -
P(loss), so a draw counts half; utility is the value itself. The search keeps no per-move
variance, so lcb is the winrate less 1.96 standard errors of a [0, 1] outcome with the largest
possible variance (1/4): winrate - 0.98 / sqrt(visits).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import mctx
import numpy as np

from alphago_jax.nets.heads import scalar_value
from alphago_jax.rules.coords import action_to_gtp
from alphago_jax.rules.go import BLACK, WHITE, Rules
from alphago_jax.search.mcts import (
    SearchSettings,
    evaluate,
    policy_value,
    run_policy,
    state_features,
)

__all__ = [
    "Analysis", "AnalyzeRequest", "MoveStat", "RoundStats", "dead_chains", "format_kata",
    "format_lz", "network_eval", "ownership_estimate", "parse_analyze_args", "parse_number",
    "search_round",
]

PV_DEPTH = 16
_Z = 1.96

# kata-analyze options KataGo accepts that change nothing here (all take true/false).
_IGNORED_FLAGS = ("pvvisits", "pvedgevisits", "ownershipstdev", "movesownership",
                  "movesownershipstdev", "rootinfo", "includepolicy")


# ---------------------------------------------------------------------- device functions
class RoundStats(NamedTuple):
    """Root statistics of one batched search (B copies of the position, A actions).

    Attributes:
      visits: int32[B, A] root visit counts.
      qvalues: float32[B, A] each root action's value for the side to move (where visited).
      value: float32[B] the searched root value (`search.policy_value`).
      prior: float32[B, A] the network's policy at the root (0 on illegal actions).
      prior_value: float32[B] the network's value at the root.
      pv: int32[B, A, PV_DEPTH] each root action followed by the most visited path below it,
        -1 after its end (all -1 for an unvisited action).
    """

    visits: jax.Array
    qvalues: jax.Array
    value: jax.Array
    prior: jax.Array
    prior_value: jax.Array
    pv: jax.Array


def principal_variations(tree: mctx.Tree, depth: int) -> jax.Array:
    """int32[B, A, depth]: every root action and then the most visited child, node by node."""
    root = mctx.Tree.ROOT_INDEX

    def one(index, visits):  # [N, A] each: one search's tree
        def follow(action):
            def step(node, _):
                n = jnp.maximum(node, 0)
                best = jnp.argmax(visits[n]).astype(jnp.int32)
                ok = (node >= 0) & (visits[n, best] > 0)
                return jnp.where(ok, index[n, best], -1), jnp.where(ok, best, -1)

            first = jnp.where(visits[root, action] > 0, action, -1)
            start = jnp.where(first >= 0, index[root, action], -1)
            _, rest = jax.lax.scan(step, start, None, length=depth - 1)
            return jnp.concatenate([first[None], rest])

        return jax.vmap(follow)(jnp.arange(index.shape[-1], dtype=jnp.int32))

    return jax.vmap(one)(tree.children_index, tree.children_visits)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def search_round(rules: Rules, network, history: int, settings: SearchSettings, params, states,
                 key: jax.Array) -> RoundStats:
    """One analysis round: a batched search of `states` (GoState with batch axis B)."""
    out, logits, value, legal = run_policy(rules, network, history, settings, params, states,
                                           key)
    summary = out.search_tree.summary()
    return RoundStats(
        visits=summary.visit_counts.astype(jnp.int32),
        qvalues=summary.qvalues.astype(jnp.float32),
        value=policy_value(out),
        prior=jnp.where(legal, jax.nn.softmax(logits, axis=-1), 0.0),
        prior_value=value,
        pv=principal_variations(out.search_tree, PV_DEPTH),
    )


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def network_eval(rules: Rules, network, history: int, params, states):
    """The raw network at a batch of states.

    Returns:
      (policy float32[B, A] (0 on illegal actions), value float32[B] for the side to move,
      ownership float32[B, P] with +1 = Black's, or None without an ownership head).
    """
    x, legal = state_features(rules, states, history)
    out = network(params, x)
    logits = jnp.where(legal, out.policy_logits.astype(jnp.float32), -jnp.inf)
    own = None
    if out.ownership is not None:  # side-to-move view -> Black's view
        own = out.ownership.reshape(x.shape[0], -1) * states.to_play[:, None]
    return jax.nn.softmax(logits, axis=-1), scalar_value(out.value_logits), own


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def ownership_estimate(rules: Rules, network, history: int, playouts: int, length: int, params,
                       state, key: jax.Array) -> jax.Array:
    """float32[P] expected final ownership of each point, +1 = Black's, for one state.

    The network's ownership head when it has one; otherwise the mean Tromp-Taylor area map at
    the end of `playouts` games continued from `state` for at most `length` moves, each move
    sampled from the network's policy (the games end on two passes, as the policy chooses).
    """
    one = jax.tree.map(lambda x: x[None], state)
    _, _, own = network_eval(rules, network, history, params, one)
    if own is not None:
        return own[0]
    states = jax.tree.map(lambda x: jnp.repeat(x[None], playouts, axis=0), state)

    def step(s, k):
        logits, _, _ = evaluate(rules, network, params, s, history)
        actions = jax.random.categorical(k, logits).astype(jnp.int32)
        return jax.vmap(rules.step)(s, actions), None

    final, _ = jax.lax.scan(step, states, jax.random.split(key, length))
    area = jax.vmap(rules.ownership)(final).reshape(playouts, -1)
    return jnp.mean(area.astype(jnp.float32), axis=0)


# ---------------------------------------------------------------------- host side
def chains(board: np.ndarray, size: int) -> list[list[int]]:
    """The chains of stones on a flat board (+1/-1/0), each a sorted list of points."""
    seen = np.zeros(board.shape, bool)
    out = []
    for p in np.flatnonzero(board):
        if seen[p]:
            continue
        colour, stack, chain = board[p], [int(p)], []
        seen[p] = True
        while stack:
            q = stack.pop()
            chain.append(q)
            r, c = divmod(q, size)
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                n = rr * size + cc
                if 0 <= rr < size and 0 <= cc < size and not seen[n] and board[n] == colour:
                    seen[n] = True
                    stack.append(n)
        out.append(sorted(chain))
    return out


def dead_chains(board: np.ndarray, ownership: np.ndarray, size: int, threshold: float = 0.5
                ) -> list[list[int]]:
    """Chains whose mean estimated ownership (+1 = Black's) belongs to the other colour by more
    than `threshold`: the stones an ownership estimate calls dead."""
    return [ch for ch in chains(board, size)
            if float(np.mean(ownership[ch])) * int(board[ch[0]]) < -threshold]


class MoveStat(NamedTuple):
    """One candidate move of an analysis: its action, visits, value (side to move, in [-1, 1]),
    network prior, and principal variation (actions, the move first)."""

    action: int
    visits: int
    value: float
    prior: float
    pv: list[int]

    @property
    def winrate(self) -> float:
        return min(max((1.0 + self.value) / 2.0, 0.0), 1.0)

    @property
    def lcb(self) -> float:
        if self.visits <= 0:
            return 0.0
        return max(self.winrate - _Z * 0.5 / math.sqrt(self.visits), 0.0)


@dataclasses.dataclass
class Analysis:
    """Root statistics of the analysed position, merged over rounds (see the module doc)."""

    visits: np.ndarray  # int64[A]
    q_sum: np.ndarray  # float64[A]: sum over searches of visits * Q
    prior: np.ndarray  # float64[A]
    legal: np.ndarray  # bool[A]
    pv: np.ndarray  # int64[A, D]
    pv_visits: np.ndarray  # int64[A]: visits of the search each PV comes from
    value_sum: float = 0.0
    searches: int = 0
    prior_value: float = 0.0

    @classmethod
    def empty(cls, num_actions: int) -> Analysis:
        a = num_actions
        return cls(np.zeros(a, np.int64), np.zeros(a), np.zeros(a), np.zeros(a, bool),
                   np.full((a, PV_DEPTH), -1, np.int64), np.zeros(a, np.int64))

    def add(self, stats: RoundStats) -> None:
        """Merges one round (every search of its batch)."""
        s = jax.tree.map(np.asarray, jax.device_get(stats))
        for b in range(s.visits.shape[0]):
            v = s.visits[b].astype(np.int64)
            self.visits += v
            self.q_sum += np.where(v > 0, v * s.qvalues[b], 0.0)
            better = v > self.pv_visits
            self.pv[better] = s.pv[b][better]
            self.pv_visits = np.maximum(self.pv_visits, v)
            self.value_sum += float(s.value[b])
            self.searches += 1
        self.prior = s.prior.mean(axis=0).astype(np.float64)
        self.legal = self.prior > 0
        self.prior_value = float(s.prior_value.mean())

    @property
    def total_visits(self) -> int:
        return int(self.visits.sum())

    def value(self) -> float:
        """The searched value of the position (mean over searches), side to move."""
        return self.value_sum / max(self.searches, 1)

    def ranked(self, min_moves: int = 0, max_moves: int | None = None) -> list[MoveStat]:
        """Candidate moves, best first: by visits, then value, then prior. Moves without visits
        are added (by prior, valued at the root's searched value) up to `min_moves`."""
        q = np.where(self.visits > 0, self.q_sum / np.maximum(self.visits, 1), self.value())
        visited = [int(a) for a in np.flatnonzero(self.visits > 0)]
        visited.sort(key=lambda a: (-self.visits[a], -q[a], -self.prior[a], a))
        rest = [int(a) for a in np.flatnonzero(self.legal & (self.visits == 0))]
        rest.sort(key=lambda a: (-self.prior[a], a))
        order = visited + rest[: max(min_moves - len(visited), 0)]
        if max_moves is not None:
            order = order[:max_moves]
        return [MoveStat(a, int(self.visits[a]), float(q[a]), float(self.prior[a]),
                         [a] + [int(m) for m in self.pv[a][1:] if m >= 0] if self.visits[a]
                         else [a])
                for a in order]

    def best(self) -> int:
        """The move with the most visits (ties: the higher value, then prior)."""
        return self.ranked()[0].action


def _pv_text(pv: list[int], size: int) -> str:
    return " ".join(action_to_gtp(a, size) for a in pv)


def format_lz(moves: list[MoveStat], size: int) -> str:
    """One ``lz-analyze`` line (Leela Zero's format)."""
    parts = [
        f"info move {action_to_gtp(m.action, size)} visits {m.visits} "
        f"winrate {round(10000 * m.winrate)} prior {round(10000 * m.prior)} "
        f"lcb {round(10000 * m.lcb)} order {i} pv {_pv_text(m.pv, size)}"
        for i, m in enumerate(moves)
    ]
    return " ".join(parts)


def format_kata(moves: list[MoveStat], size: int, ownership: np.ndarray | None = None) -> str:
    """One ``kata-analyze`` line (KataGo's format; `ownership` for the side to move, if any)."""
    parts = [
        f"info move {action_to_gtp(m.action, size)} visits {m.visits} "
        f"utility {m.value:.6g} winrate {m.winrate:.6g} prior {m.prior:.6g} "
        f"lcb {m.lcb:.6g} utilityLcb {2 * m.lcb - 1:.6g} order {i} pv {_pv_text(m.pv, size)}"
        for i, m in enumerate(moves)
    ]
    if ownership is not None:
        # + 0.0 turns -0.0 into 0.0.
        parts.append("ownership " + " ".join(f"{v + 0.0:.6g}" for v in np.asarray(ownership)))
    return " ".join(parts)


# ---------------------------------------------------------------------- arguments
@dataclasses.dataclass
class AnalyzeRequest:
    """What an analyze command asked for.

    Attributes:
      colour: the player to analyse for, None for the side to move.
      interval: seconds between output lines; 0 (or not given): a line after every round.
      min_moves, max_moves: bounds on the number of moves per line (``minmoves``/``maxmoves``).
      ownership: ``ownership true`` (kata-analyze).
    """

    colour: int | None = None
    interval: float = 0.0
    min_moves: int = 0
    max_moves: int | None = None
    ownership: bool = False


def _colour_word(text: str) -> int | None:
    return {"b": BLACK, "black": BLACK, "w": WHITE, "white": WHITE}.get(text.lower())


def parse_number(text: str, what: str) -> float:
    """A finite, non-negative number from a GTP argument.

    Raises:
      ValueError: naming `what`.
    """
    try:
        x = float(text)
    except ValueError:
        x = float("nan")
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{what} must be a non-negative number")
    return x


def _flag(text: str, what: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError(f"{what} must be true or false")
    return text.lower() == "true"


def parse_analyze_args(args: list[str]) -> AnalyzeRequest:
    """Parses ``[player] [interval] [key value]...`` (the arguments of lz-analyze,
    kata-analyze and their genmove_analyze forms, as KataGo documents them).

    Raises:
      ValueError: a malformed or unsupported argument (the message says which).
    """
    req, i = AnalyzeRequest(), 0
    if i < len(args) and _colour_word(args[i]) is not None:
        req.colour, i = _colour_word(args[i]), i + 1
    if i < len(args) and args[i].replace(".", "", 1).isdigit():
        req.interval, i = parse_number(args[i], "interval") / 100.0, i + 1
    while i < len(args):
        key = args[i].lower()
        if key in ("avoid", "allow"):
            raise ValueError(f"{key} is not supported")
        if i + 1 >= len(args):
            raise ValueError(f"{args[i]} needs a value")
        value, i = args[i + 1], i + 2
        if key == "interval":
            req.interval = parse_number(value, "interval") / 100.0
        elif key in ("minmoves", "maxmoves"):
            if not value.isdigit():
                raise ValueError(f"{key} must be a non-negative integer")
            if key == "minmoves":
                req.min_moves = int(value)
            else:
                req.max_moves = int(value)
        elif key == "ownership":
            req.ownership = _flag(value, key)
        elif key in _IGNORED_FLAGS:
            _flag(value, key)
        else:
            raise ValueError(f"unknown analyze option {args[i - 2]}")
    return req
