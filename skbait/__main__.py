"""Command line: ``python -m skbait demo [--dataset digits] [--quick] [--out DIR] [--seeds N]``."""

import argparse
import sys


def main(argv=None):
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
    demo.add_argument("--out", default="skbait-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seeds", type=int, default=None,
                      help="number of seeds (default: 5, or 2 with --quick; at least 2)")
    demo.add_argument("--jobs", type=int, default=-1,
                      help="parallel runs through joblib (default: all cores)")
    demo.add_argument("--no-progress", dest="progress", action="store_false",
                      help="do not show progress bars")
    args = parser.parse_args(argv)

    from skbait.experiment._demo import report, run_demo

    if args.seeds is not None and args.seeds < 2:
        parser.error("--seeds must be at least 2 (the penalty matrix needs a paired t-test)")
    _, summary, penalty = run_demo(
        dataset=args.dataset, quick=args.quick, out=args.out, seeds=args.seeds,
        n_jobs=args.jobs, progress=args.progress,
    )
    print(report(summary, penalty, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
