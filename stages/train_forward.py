"""Stage `train_forward`: the forward baseline (the Go library's trainer), same data, seeds
and budget as the backward chain -> runs/forward/seed<k>/."""
from common import RUNS, for_each_seed, load_params, main_guard, say, train_seed, warm_main


def main() -> None:
    main_guard()
    params = load_params()
    main_cfg = params["main"]
    say(f"train_forward: {len(main_cfg['seeds'])} seeds")
    for_each_seed(train_seed, main_cfg["seeds"], main_cfg["n_jobs"], params, "forward", str(RUNS / "forward"),
                  warm=lambda: warm_main(params, "forward"))


if __name__ == "__main__":
    main()
