"""The `alphago-jax` console script: `alphago-jax <command> [options]`."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 5,9,19, got {text!r}") from None
    bad = [s for s in sizes if not 2 <= s <= 19]
    if bad:
        raise argparse.ArgumentTypeError(f"board sizes must be in 2..19, got {bad}")
    return sizes


# ------------------------------------------------------------------ number checks
# Every number is checked while the command line is parsed, before anything loads or compiles:
# a bad one is an argparse error ("argument --games: must be an integer >= 1, got 0", exit 2).
_INT32_MAX = 2**31 - 1  # counts and sizes live in int32 arrays on the device
_SEED_MAX = 2**32 - 1  # jax.random.key takes a 32-bit seed
_MAX_MOVES = 30000  # Rules' move cap limit (alphago_jax.rules.go.Rules)


def _int_in(lo: int, hi: int = _INT32_MAX) -> Callable[[str], int]:
    """An argparse type: an integer in lo..hi (named `>= lo` when only int32 bounds it)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            huge = value is not None and value > hi
            span = f"in {lo}..{hi}" if huge or hi != _INT32_MAX else f">= {lo}"
            raise argparse.ArgumentTypeError(f"must be an integer {span}, got {text}")
        return value

    return parse


def _number(lo: float | None = None, hi: float | None = None, lo_open: bool = False,
            noun: str = "number") -> Callable[[str], float]:
    """An argparse type: a finite float, at least `lo` (above it with `lo_open`) and at most
    `hi` when given; NaN and inf are never a setting."""
    span = ""
    if lo is not None:
        span = f" {'>' if lo_open else '>='} {lo:g}"
    if lo is not None and hi is not None:
        span = f" in {'(' if lo_open else '['}{lo:g}, {hi:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        low_ok = lo is None or (value > lo if lo_open else value >= lo)
        if not (math.isfinite(value) and low_ok and (hi is None or value <= hi)):
            raise argparse.ArgumentTypeError(f"must be a finite {noun}{span}, got {text}")
        return value

    return parse


def _new_dir(text: str) -> str:
    """An argparse type: a path where a directory is or can be made (not a file, nor inside
    one)."""
    path = Path(text)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                where = "is a file" if p == path else f"is inside the file {p}"
                raise argparse.ArgumentTypeError(
                    f"{text} {where}, not a directory: name a new run directory")
            break
    return text


_GAMES = _int_in(1)
_SIMS = _int_in(1)
_SEED = _int_in(0, _SEED_MAX)
_SIZE = _int_in(2, 19)
_KOMI = _number()


def _bench_rules(args) -> int:
    from alphago_jax.bench import rules

    rules.run(
        sizes=args.sizes,
        batch=args.batch,
        length=args.length,
        repeats=args.repeats,
        compare_pgx=not args.no_pgx,
        simple_ko=args.simple_ko,
    )
    return 0


def _bench_selfplay(args) -> int:
    from alphago_jax.bench import selfplay
    from alphago_jax.config import ConfigError

    try:
        selfplay.main(args)
    except ConfigError as e:  # settings each valid alone, refused together by the config
        print(f"alphago-jax bench selfplay: {e}", file=sys.stderr)
        return 2
    return 0


def _bench_train(args) -> int:
    from alphago_jax.bench import train
    from alphago_jax.config import ConfigError

    try:
        train.main(args)
    except ConfigError as e:
        print(f"alphago-jax bench train: {e}", file=sys.stderr)
        return 2
    return 0


def _bench_gpu(args) -> int:
    from alphago_jax.bench import gpu

    if args.stage:  # the process of one stage, started by gpu.main
        return gpu.run_stage(args.stage, args.toy)
    results = gpu.main(args)
    return 0 if all(r.status == "ok" for r in results) else 1


def _stage_names(text: str) -> tuple[str, ...]:
    from alphago_jax.bench.gpu import STAGES

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    known = [s.name for s in STAGES]
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"stages must be a comma-separated subset of "
                                         f"{', '.join(known)}, got {text!r}")
    return names


def _forms(text: str) -> tuple[str, ...]:
    forms = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in forms if f not in ("cpu", "accelerator")]
    if bad or not forms:
        raise argparse.ArgumentTypeError(f"forms are 'cpu' and/or 'accelerator', got {text!r}")
    return forms


def _train(args) -> int:
    from alphago_jax import distributed

    try:
        cluster = distributed.resolve(args.coordinator, args.num_processes, args.process_id,
                                      args.distributed)
    except distributed.DistributedError as e:
        print(f"alphago-jax train: {e}", file=sys.stderr)
        return 2
    try:
        # Before anything asks jax for its devices (importing the job does not).
        distributed.initialize(cluster)
    except Exception as e:  # an unreachable coordinator, a taken port, ...
        print(f"alphago-jax train: joining the multi-process run {cluster} failed: {e}",
              file=sys.stderr)
        return 1
    from alphago_jax import train

    return train.main(args.run_dir, args.preset, args.overrides)


def _evaluate(args) -> int:
    from alphago_jax import evaluate

    return evaluate.main(args.run_dir, args.games, args.sims, args.seed)


def _arena(args) -> int:
    from alphago_jax.arena import referee

    return referee.main(
        args.player_a, args.player_b, games=args.games, size=args.size, komi=args.komi,
        superko=args.superko, suicide=args.suicide, max_moves=args.max_moves,
        sgf_dir=args.sgf_dir, seed=args.seed, parallel=args.parallel,
        gtp_timeout=args.gtp_timeout, progress=not args.no_progress,
        allow_forfeits=args.allow_forfeits,
    )


def _add_arena(sub) -> None:
    ar = sub.add_parser(
        "arena", help="a match between two players (random, checkpoints, GTP engines)",
        description="Players: 'random', 'ckpt:DIR[@STEP][:SIMS]' (a training run's checkpoint), "
        "'gtp:COMMAND' (a GTP engine, e.g. 'gtp:/usr/games/gnugo --mode gtp --level 10'). "
        "The last stdout line is 'A vs B: W-L-D, win rate X (95% CI lo-hi), forfeits: A n, B m' "
        "(forfeits: games each player lost by an illegal move or a failure). Exit status: 0, "
        "2 on bad input, 1 when a game was forfeited because a player failed (no reply in "
        "time, exited, refused a command, answered with something that is not a move).",
    )
    ar.add_argument("player_a", metavar="PLAYER_A")
    ar.add_argument("player_b", metavar="PLAYER_B")
    ar.add_argument("--games", type=_GAMES, default=40)
    ar.add_argument("--size", type=_SIZE, default=None,
                    help="2..19 (default: the checkpoint's, else 9)")
    ar.add_argument("--komi", type=_KOMI, default=None,
                    help="default: the checkpoint's, else 7.5")
    ar.add_argument("--superko", action=argparse.BooleanOptionalAction, default=None,
                    help="positional superko (default: the checkpoint's, else on)")
    ar.add_argument("--suicide", action=argparse.BooleanOptionalAction, default=None,
                    help="multi-stone suicide (always off with a GTP engine)")
    ar.add_argument("--max-moves", type=_int_in(1, _MAX_MOVES), default=None,
                    help=f"move cap, 1..{_MAX_MOVES} (default 2*size^2)")
    ar.add_argument("--sgf-dir", default=None, help="default: runs/arena-<time>")
    ar.add_argument("--seed", type=_SEED, default=0)
    ar.add_argument("--parallel", type=_int_in(1), default=None,
                    help="games at once (default: all up to 256; 8 with a GTP engine)")
    ar.add_argument("--gtp-timeout", type=_number(0, lo_open=True, noun="number of seconds"),
                    default=None,
                    help="seconds per GTP reply before the engine forfeits (default 60)")
    ar.add_argument("--allow-forfeits", action="store_true",
                    help="exit 0 even when games were forfeited because a player failed")
    ar.add_argument("--no-progress", action="store_true", help="no progress bar")
    ar.set_defaults(func=_arena)


def _steps(text: str) -> tuple[int, ...]:
    """An argparse type: checkpoint steps like 25,50 (integers >= 0)."""
    try:
        steps = tuple(int(s) for s in text.split(","))
    except ValueError:
        steps = ()
    if not steps or min(steps) < 0:
        raise argparse.ArgumentTypeError(f"expected checkpoint steps like 25,50, got {text!r}")
    return steps


def _opening_moves(text: str) -> int:
    """An argparse type: moves per opening, even (Black to move after it) in 2..20."""
    moves = _int_in(2, 20)(text)
    if moves % 2:
        raise argparse.ArgumentTypeError(f"must be even (Black moves after the opening), got "
                                         f"{text}")
    return moves


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected players like random,gnugo:1, got {text!r}")
    return names


def _ladder(args) -> int:
    from alphago_jax.arena import ladder

    opts = ladder.LadderOptions(
        steps=args.steps, latest=args.latest, references=args.references, anchor=args.anchor,
        anchor_elo=args.anchor_elo, openings=args.openings, opening_moves=args.opening_moves,
        openings_seed=args.openings_seed, sims=args.sims, seed=args.seed,
        parallel=args.parallel, gtp_timeout=args.gtp_timeout, gnugo=args.gnugo,
        plot=not args.no_plot, progress=not args.no_progress,
    )
    return ladder.main(args.run_dir, opts)


def _add_ladder(sub) -> None:
    la = sub.add_parser(
        "ladder", help="rate a run's checkpoints against random and GnuGo (resumable)",
        description="Every selected checkpoint plays every reference (and each reference the "
        "next) from a fixed, seeded set of balanced openings, each once with each colour; a "
        "Bradley-Terry fit anchored on --anchor rates them all. Results go to "
        "RUN/ladder/ladder.jsonl game by game (a rerun plays only what is missing), with SGF "
        "files and RUN/ladder/elo.png. The last stdout line is 'ladder: RUN step=N elo=X (95% CI "
        "lo..hi), vs REF W-L-D, ...; distinct games D/G'. Exit status: 0, 2 on bad input, 1 when "
        "games failed (rerun to play them).",
    )
    la.add_argument("run_dir", metavar="RUN")
    pick = la.add_mutually_exclusive_group()
    pick.add_argument("--steps", type=_steps, default=None,
                      help="checkpoints to rate, e.g. 25,50 (default: all)")
    pick.add_argument("--latest", action="store_true", help="rate the latest checkpoint only")
    la.add_argument("--references", type=_names, default=("random", "gnugo:1", "gnugo:5",
                                                           "gnugo:10"),
                    help="comma-separated: random, gnugo:LEVEL, gtp:COMMAND "
                    "(default random,gnugo:1,gnugo:5,gnugo:10)")
    la.add_argument("--anchor", default="gnugo:1", help="reference held at --anchor-elo")
    la.add_argument("--anchor-elo", type=_number(), default=0.0)
    la.add_argument("--openings", type=_int_in(1, 1000), default=None,
                    help="openings in the set (default 20; fixed by the ladder's first run)")
    la.add_argument("--opening-moves", type=_opening_moves, default=None,
                    help="moves per opening, even (default 4)")
    la.add_argument("--openings-seed", type=_SEED, default=None, help="default 0")
    la.add_argument("--sims", type=_SIMS, default=None,
                    help="simulations per move (default: the run's eval_simulations)")
    la.add_argument("--seed", type=_SEED, default=0,
                    help="seed of the checkpoints' search and of GnuGo (--seed)")
    la.add_argument("--parallel", type=_int_in(1), default=None,
                    help="games at once per pairing (default: up to 256; 8 with GnuGo)")
    la.add_argument("--gtp-timeout", type=_number(0, lo_open=True, noun="number of seconds"),
                    default=60.0, help="seconds per GTP reply (default 60)")
    la.add_argument("--gnugo", default=None, help="GnuGo program (default: gnugo on PATH, "
                    "else /usr/games/gnugo)")
    la.add_argument("--no-plot", action="store_true", help="no elo.png")
    la.add_argument("--no-progress", action="store_true", help="no progress bars")
    la.set_defaults(func=_ladder)


def _gtp(args) -> int:
    from alphago_jax.gtp import engine

    return engine.main(args)


# ------------------------------------------------------------------ supervised
_TRAIN_VALUE_OPTIONS = ("--run-dir", "--preset", "--coordinator", "--num-processes",
                        "--process-id")
_SUPERVISED_VALUE_OPTIONS = (
    "--data", "--run-dir", "--preset", "--steps", "--holdout", "--eval-every", "--chunk",
    "--eval-batch", "--train-eval-positions",
)


def _supervised(args) -> int:
    from alphago_jax.supervised import SLSettings, main

    given = {k: getattr(args, k) for k in (
        "steps", "holdout", "eval_every", "chunk", "eval_batch", "train_eval_positions")}
    settings = SLSettings(strict=args.strict, **{k: v for k, v in given.items() if v is not None})
    return main(args.data, args.run_dir, args.preset, args.overrides, settings)


def _add_supervised(sub) -> None:
    # Defaults (None) are SLSettings' (not imported here: that would load jax for every command).
    sl = sub.add_parser(
        "supervised", help="supervised warm start: train the network on SGF game records",
        description="Trains the network of a TrainConfig (preset + key=value overrides) to "
        "predict the played move and the result of SGF games under --data; writes a run "
        "directory that evaluate, arena (ckpt:DIR), gtp and init_from=DIR load.",
    )
    sl.add_argument("--data", required=True, help="directory of .sgf files (recursive)")
    sl.add_argument("--run-dir", required=True, type=_new_dir, help="new run directory")
    sl.add_argument("--preset", default="default", help="named config preset")
    sl.add_argument("--steps", type=int, help="SGD steps (default 2000)")
    sl.add_argument("--holdout", type=float,
                    help="fraction of games held out for evaluation (default 0.1)")
    sl.add_argument("--eval-every", type=int, help="SGD steps between evaluations (default 100)")
    sl.add_argument("--chunk", type=int, help="SGD steps per compiled call (default 4)")
    sl.add_argument("--eval-batch", type=int, help="positions per evaluation call (default 512)")
    sl.add_argument("--train-eval-positions", type=int,
                    help="training positions evaluated like the held-out ones (default 2048)")
    sl.add_argument("--strict", action="store_true",
                    help="fail on a malformed SGF or an illegal move instead of skipping it")
    sl.add_argument(
        "overrides", nargs="*", help="config overrides as key=value or --key=value (wandb style)"
    )
    sl.set_defaults(func=_supervised)


def _split_overrides(
    argv: list[str], value_options: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """(argparse arguments, config overrides in order) of a `train`/`supervised` command line.

    Overrides are `key=value` and `--key=value` (as wandb agents pass them); argparse would
    reject the second form as unknown options, so they are taken out first. `value_options` are
    the command's own options that take a value (`--run-dir x=y` keeps `x=y` as that value).
    Other words stay with argparse: `--komi 5.5` is an unknown option there, and `komi 5.5`
    lands in the `overrides` positional, which `main` refuses.
    """
    known, overrides = [], []
    for i, a in enumerate(argv):
        is_value = i > 0 and argv[i - 1] in value_options
        if "=" in a and not is_value and not a.startswith("-"):
            overrides.append(a)
        elif a.startswith("--") and "=" in a and a.split("=")[0] not in value_options:
            overrides.append(a[2:])
        else:
            known.append(a)
    return known, overrides


def _refuse_words(command: str, words: list[str]) -> int:
    """Exit status 2 for command-line words that are neither options nor key=value overrides,
    with the form to write (a value is never taken from the next word)."""
    example = f"{words[0]}={words[1]}" if len(words) > 1 else f"{words[0]}=VALUE"
    print(f"alphago-jax {command}: {' '.join(words)!r} is not an override: write each as "
          f"key=value or --key=value (e.g. {example})", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alphago-jax", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="self-play training (the main job)")
    train.add_argument(
        "--run-dir", default=None,
        help="run directory; an existing one resumes. Required, except under a wandb sweep "
        "agent, where it defaults to runs/sweeps/<sweep_id>/<run_id>",
    )
    train.add_argument("--preset", default="default", help="named config preset")
    multi = train.add_argument_group(
        "multi-process runs", "every process runs the same command with its own --process-id; "
        "the flags default to $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES, $JAX_PROCESS_ID")
    multi.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                       help="address of process 0's coordinator service")
    multi.add_argument("--num-processes", type=_int_in(1), default=None, metavar="N",
                       help="processes in the run")
    multi.add_argument("--process-id", type=_int_in(0), default=None, metavar="I",
                       help="this process, 0..N-1 (0 writes the logs)")
    multi.add_argument("--distributed", action="store_true",
                       help="join a multi-process run found by jax's cluster auto-detection "
                       "(Cloud TPU pod slices, SLURM) when no flag or variable names it")
    train.add_argument(
        "overrides", nargs="*", help="config overrides as key=value or --key=value (wandb style)"
    )
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="a run's latest checkpoint vs uniform random")
    ev.add_argument("--run-dir", required=True)
    ev.add_argument("--games", type=_GAMES, default=200)
    ev.add_argument("--sims", type=_SIMS, default=None, help="default: the run's eval_simulations")
    ev.add_argument("--seed", type=_SEED, default=0)
    ev.set_defaults(func=_evaluate)

    _add_arena(sub)
    _add_ladder(sub)
    _add_supervised(sub)

    gtp = sub.add_parser("gtp", help="serve a checkpoint as a GTP engine on stdin/stdout")
    gtp.add_argument("--checkpoint", required=True, help="run directory (its latest checkpoint)")
    gtp.add_argument("--sims", type=_SIMS, default=None,
                     help="default: the run's eval_simulations")
    gtp.add_argument("--superko", action=argparse.BooleanOptionalAction, default=None,
                     help="positional superko (default: the run's config)")
    gtp.add_argument("--suicide", action=argparse.BooleanOptionalAction, default=None,
                     help="allow multi-stone suicide (default: the run's config)")
    gtp.add_argument("--komi", type=_KOMI, default=None, help="default: the run's komi")
    gtp.add_argument("--resign-threshold", type=_number(-1, 1), default=-0.95,
                     help="resign below this searched value, in [-1, 1]; -1 never resigns")
    gtp.add_argument("--seed", type=_SEED, default=0)
    gtp.set_defaults(func=_gtp)

    bench = sub.add_parser("bench", help="throughput benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    br = bench_sub.add_parser("rules", help="random legal moves, ours vs pgx")
    br.add_argument("--sizes", type=_sizes, default=(5, 9, 13, 19))
    br.add_argument("--batch", type=_int_in(1), default=1024)
    br.add_argument("--length", type=_int_in(1), default=64, help="scan steps per timed run")
    br.add_argument("--repeats", type=_int_in(1), default=3)
    br.add_argument("--no-pgx", action="store_true", help="skip the pgx baseline")
    br.add_argument("--simple-ko", action="store_true", help="also time superko=False")
    br.set_defaults(func=_bench_rules)

    bs = bench_sub.add_parser("selfplay", help="search + self-play moves/s, ours vs a pgx loop")
    bs.add_argument("--size", type=_SIZE, default=9)
    bs.add_argument("--batch", type=_int_in(1), default=64)
    bs.add_argument("--sims", type=_SIMS, default=32)
    bs.add_argument("--blocks", type=_int_in(1), default=4)
    bs.add_argument("--channels", type=_int_in(1), default=32)
    bs.add_argument("--steps", type=_int_in(1), default=16, help="self-play steps per timed run")
    bs.add_argument("--repeats", type=_int_in(1), default=3)
    bs.add_argument("--no-pgx", action="store_true", help="skip the pgx baseline")
    bs.add_argument("--breakdown", action="store_true",
                    help="also time same-network and null-network loops and one net evaluation")
    bs.set_defaults(func=_bench_selfplay)

    bt = bench_sub.add_parser(
        "train", help="compile time and s/iteration of the compiled iteration, CPU vs "
        "accelerator forms (unrolled SGD + select vs rolled scan + cond)")
    bt.add_argument("--preset", default="tiny-9x9")
    bt.add_argument("--iterations", type=_int_in(1), default=3, help="timed iterations per form")
    bt.add_argument("--forms", type=_forms, default=("cpu", "accelerator"),
                    help="comma-separated: cpu, accelerator")
    bt.add_argument("overrides", nargs="*", help="config overrides as key=value")
    bt.set_defaults(func=_bench_train)

    bg = bench_sub.add_parser(
        "gpu", help="one-shot accelerator check (<= 8 min): versions, rules, self-play vs pgx, "
        "training compile/iteration/memory; each stage in its own process and time limit")
    bg.add_argument("--toy", "--dry-run", dest="toy", action="store_true",
                    help="every stage at toy sizes (checks the script on CPU in < 1 min)")
    bg.add_argument("--only", type=_stage_names, default=None,
                    help="comma-separated stages to run (default: all)")
    bg.add_argument("--stage", type=lambda t: _stage_names(t)[0], default=None,
                    help=argparse.SUPPRESS)  # one stage's own process
    bg.set_defaults(func=_bench_gpu)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("train", "supervised"):
        options = _TRAIN_VALUE_OPTIONS if argv[0] == "train" else _SUPERVISED_VALUE_OPTIONS
        known, overrides = _split_overrides(argv[1:], options)
        args = build_parser().parse_args([argv[0], *known])
        if args.overrides:  # words without '=' ("komi 5.5"): refused, never silently dropped
            return _refuse_words(argv[0], args.overrides)
        args.overrides = overrides
    else:
        args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
