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
    from alphago_jax import train

    if args.games < 1:
        raise SystemExit("alphago-jax evaluate: --games must be >= 1")
    return train.evaluate_main(args.run_dir, args.games, args.sims, args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alphago-jax", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="self-play training (the main job)")
    train.add_argument("--run-dir", required=True, help="run directory; an existing one resumes")
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
    bs.set_defaults(func=_bench_selfplay)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `train` overrides may be written `--key=value` (as wandb agents pass them): keep them
    # away from argparse, which would reject unknown options.
    if argv and argv[0] == "train":
        known, extra = [], []
        for a in argv[1:]:
            is_override = a.startswith("--") and "=" in a and not a.startswith(
                ("--run-dir=", "--preset=")
            )
            (extra if is_override else known).append(a)
        args = build_parser().parse_args(["train", *known])
        args.overrides = list(args.overrides) + [e[2:] for e in extra]
    else:
        args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
