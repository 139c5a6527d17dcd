"""Stage `backward@<pass>`: more backward sweeps, resuming the checkpoint of the stage named
by `main.passes.<pass>.src` -> runs/backward/<pass>/seed<k>/.

Each pass raises the run's epoch limit by `main.passes.<pass>.epochs` (within `budget`), so
bootstrap -> pass1 -> ... -> last trains exactly what one uninterrupted run would.
"""
import argparse

from common import RUNS, for_each_seed, load_params, main_guard, say, train_seed, warm_main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pass", dest="name", required=True, help="a key of main.passes in params.yaml")
    args = ap.parse_args()
    main_guard()
    params = load_params()
    main_cfg = params["main"]
    if args.name not in main_cfg["passes"]:
        raise SystemExit(f"no pass {args.name!r} in main.passes; passes: {list(main_cfg['passes'])}")
    spec = main_cfg["passes"][args.name]
    say(f"backward pass {args.name}: resume {spec['src']}, +{spec['epochs']} epochs")
    for_each_seed(train_seed, main_cfg["seeds"], main_cfg["n_jobs"], params, "backward",
                  str(RUNS / "backward" / args.name), resume_base=str(RUNS / "backward" / spec["src"]),
                  more_epochs=int(spec["epochs"]), warm=lambda: warm_main(params, "backward"))


if __name__ == "__main__":
    main()
