"""Command line: ``python -m skbait demo [--dataset digits] [--quick] [--out DIR] [--seeds N]
[--jobs N] [--no-progress]``."""

import argparse
import os
import sys

#: The penalty matrix compares samplers by a paired t-test over seeds (the summary's
#: standard error would do with one seed, the t-test needs two).
MIN_SEEDS = 2


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _seeds(text):
    value = _int(text)
    if value < MIN_SEEDS:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_SEEDS}, got {value}: the penalty matrix compares "
            "samplers by a paired t-test over seeds"
        )
    return value


def _jobs(text):
    value = _int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(
            "0 workers has no meaning; give a positive number of parallel runs, or a "
            "negative one as in joblib (-1: all cores, -2: all but one)"
        )
    return value


def _out(text):
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a folder")
    return text


def _parser():
    parser = argparse.ArgumentParser(prog="python -m skbait", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="compare BAIT with its baselines on a dataset shipped with scikit-learn",
        description="Active learning with LogisticRegression on digits, in pixel space and "
        "in a random projection: BAIT, BAIT forward-only, BADGE, Coreset, least "
        "confidence and random. Writes learning_curves.png, penalty_matrix.png and "
        "results.csv, and prints a summary table.",
    )
    demo.add_argument("--dataset", default="digits", choices=["digits"])
    demo.add_argument("--quick", action="store_true",
                      help="fewer rounds and seeds (under a minute)")
    demo.add_argument("--out", default="skbait-demo", type=_out,
                      help="output folder (default: %(default)s)")
    demo.add_argument("--seeds", type=_seeds, default=None,
                      help=f"number of seeds (default: 5, or 2 with --quick; at least "
                      f"{MIN_SEEDS})")
    demo.add_argument("--jobs", type=_jobs, default=-1,
                      help="parallel runs through joblib: a positive number, or negative "
                      "as in joblib (-1: all cores, -2: all but one; default: %(default)s)")
    demo.add_argument("--no-progress", dest="progress", action="store_false",
                      help="do not show progress bars")
    return parser


def main(argv=None):
    # every argument is checked here, by the demo's parser, before anything is loaded
    args = _parser().parse_args(argv)

    from skbait.experiment._demo import report, run_demo

    _, summary, penalty = run_demo(
        dataset=args.dataset, quick=args.quick, out=args.out, seeds=args.seeds,
        n_jobs=args.jobs, progress=args.progress,
    )
    print(report(summary, penalty, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
