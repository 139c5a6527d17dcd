"""Stage `bootstrap`: phase 0 of the backward pipeline — the final layer trained first with
premodulo N (it learns the class prior) -> runs/backward/bootstrap/seed<k>/.

The run stops at the end of epoch 1 (the bootstrap epoch); `backward@<pass>` stages resume
its checkpoint.
"""
from common import RUNS, for_each_seed, load_params, main_guard, say, train_seed, warm_main


def main() -> None:
    main_guard()
    params = load_params()
    main_cfg = params["main"]
    say(f"bootstrap: {len(main_cfg['seeds'])} seeds")
    for_each_seed(train_seed, main_cfg["seeds"], main_cfg["n_jobs"], params, "backward",
                  str(RUNS / "backward" / "bootstrap"), max_epochs=1, warm=lambda: warm_main(params, "backward"))


if __name__ == "__main__":
    main()
