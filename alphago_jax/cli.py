"""The `alphago-jax` console script: `alphago-jax <command> [options]`."""

from __future__ import annotations

import argparse
import sys


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 5,9,19, got {text!r}") from None
    bad = [s for s in sizes if not 2 <= s <= 19]
    if bad:
        raise argparse.ArgumentTypeError(f"board sizes must be in 2..19, got {bad}")
    return sizes


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

    selfplay.main(args)
    return 0


def _train(args) -> int:
    from alphago_jax import train

    return train.main(args.run_dir, args.preset, args.overrides)


def _evaluate(args) -> int:
    from alphago_jax import evaluate

    if args.games < 1:
        raise SystemExit("alphago-jax evaluate: --games must be >= 1")
    return evaluate.main(args.run_dir, args.games, args.sims, args.seed)


def _arena(args) -> int:
    from alphago_jax.arena import referee

    return referee.main(
        args.player_a, args.player_b, games=args.games, size=args.size, komi=args.komi,
        superko=args.superko, suicide=args.suicide, max_moves=args.max_moves,
        sgf_dir=args.sgf_dir, seed=args.seed, parallel=args.parallel,
        gtp_timeout=args.gtp_timeout, progress=not args.no_progress,
    )


def _add_arena(sub) -> None:
    ar = sub.add_parser(
        "arena", help="a match between two players (random, checkpoints, GTP engines)",
        description="Players: 'random', 'ckpt:DIR[@STEP][:SIMS]' (a training run's checkpoint), "
        "'gtp:COMMAND' (a GTP engine, e.g. 'gtp:/usr/games/gnugo --mode gtp --level 10'). "
        "The last stdout line is 'A vs B: W-L-D, win rate X (95% CI lo-hi)'.",
    )
    ar.add_argument("player_a", metavar="PLAYER_A")
    ar.add_argument("player_b", metavar="PLAYER_B")
    ar.add_argument("--games", type=int, default=40)
    ar.add_argument("--size", type=int, default=None, help="default: the checkpoint's, else 9")
    ar.add_argument("--komi", type=float, default=None, help="default: the checkpoint's, else 7.5")
    ar.add_argument("--superko", action=argparse.BooleanOptionalAction, default=None,
                    help="positional superko (default: the checkpoint's, else on)")
    ar.add_argument("--suicide", action=argparse.BooleanOptionalAction, default=None,
                    help="multi-stone suicide (always off with a GTP engine)")
    ar.add_argument("--max-moves", type=int, default=None, help="move cap (default 2*size^2)")
    ar.add_argument("--sgf-dir", default=None, help="default: runs/arena-<time>")
    ar.add_argument("--seed", type=int, default=0)
    ar.add_argument("--parallel", type=int, default=None,
                    help="games at once (default: all up to 256; 8 with a GTP engine)")
    ar.add_argument("--gtp-timeout", type=float, default=None,
                    help="seconds per GTP reply before the engine forfeits (default 60)")
    ar.add_argument("--no-progress", action="store_true", help="no progress bar")
    ar.set_defaults(func=_arena)


def _gtp(args) -> int:
    from alphago_jax.gtp import engine

    return engine.main(args)


# ------------------------------------------------------------------ supervised
_TRAIN_VALUE_OPTIONS = ("--run-dir", "--preset")
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
    sl.add_argument("--run-dir", required=True, help="new run directory")
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
    train.add_argument(
        "overrides", nargs="*", help="config overrides as key=value or --key=value (wandb style)"
    )
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="a run's latest checkpoint vs uniform random")
    ev.add_argument("--run-dir", required=True)
    ev.add_argument("--games", type=int, default=200)
    ev.add_argument("--sims", type=int, default=None, help="default: the run's eval_simulations")
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=_evaluate)

    _add_arena(sub)
    _add_supervised(sub)

    gtp = sub.add_parser("gtp", help="serve a checkpoint as a GTP engine on stdin/stdout")
    gtp.add_argument("--checkpoint", required=True, help="run directory (its latest checkpoint)")
    gtp.add_argument("--sims", type=int, default=None, help="default: the run's eval_simulations")
    gtp.add_argument("--superko", action=argparse.BooleanOptionalAction, default=None,
                     help="positional superko (default: the run's config)")
    gtp.add_argument("--suicide", action=argparse.BooleanOptionalAction, default=None,
                     help="allow multi-stone suicide (default: the run's config)")
    gtp.add_argument("--komi", type=float, default=None, help="default: the run's komi")
    gtp.add_argument("--resign-threshold", type=float, default=-0.95,
                     help="resign below this searched value; -1 never resigns")
    gtp.add_argument("--seed", type=int, default=0)
    gtp.set_defaults(func=_gtp)

    bench = sub.add_parser("bench", help="throughput benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    br = bench_sub.add_parser("rules", help="random legal moves, ours vs pgx")
    br.add_argument("--sizes", type=_sizes, default=(5, 9, 13, 19))
    br.add_argument("--batch", type=int, default=1024)
    br.add_argument("--length", type=int, default=64, help="scan steps per timed run")
    br.add_argument("--repeats", type=int, default=3)
    br.add_argument("--no-pgx", action="store_true", help="skip the pgx baseline")
    br.add_argument("--simple-ko", action="store_true", help="also time superko=False")
    br.set_defaults(func=_bench_rules)

    bs = bench_sub.add_parser("selfplay", help="search + self-play moves/s, ours vs a pgx loop")
    bs.add_argument("--size", type=int, default=9)
    bs.add_argument("--batch", type=int, default=64)
    bs.add_argument("--sims", type=int, default=32)
    bs.add_argument("--blocks", type=int, default=4)
    bs.add_argument("--channels", type=int, default=32)
    bs.add_argument("--steps", type=int, default=16, help="self-play steps per timed run")
    bs.add_argument("--repeats", type=int, default=3)
    bs.add_argument("--no-pgx", action="store_true", help="skip the pgx baseline")
    bs.add_argument("--breakdown", action="store_true",
                    help="also time same-network and null-network loops and one net evaluation")
    bs.set_defaults(func=_bench_selfplay)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("train", "supervised"):
        options = _TRAIN_VALUE_OPTIONS if argv[0] == "train" else _SUPERVISED_VALUE_OPTIONS
        known, overrides = _split_overrides(argv[1:], options)
        args = build_parser().parse_args([argv[0], *known])
        args.overrides = overrides
    else:
        args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
