"""Stage `g2p_baselines`: every baseline (conf/g2p `baselines`) of every language x seed.

    reports/g2p/baselines/<language>-s<seed>-<baseline>.json   (kept while its words match: CRFs take minutes)
"""
from common import load_params, main_guard, say

from hashtron_lab.config_schema import load_config
from hashtron_lab.g2p.sweep import run_baselines

OUT = "reports/g2p/baselines"


def main() -> None:
    main_guard()
    g = load_params()["g2p"]
    ds = load_config(["experiment=g2p"])["dataset"]
    sm = run_baselines(OUT, g["languages"], g["seeds"], g["baselines"], g["n_jobs"], ds["n_words"], ds["alignment"],
                       g["em_iterations"])
    say(f"g2p_baselines: {sm['computed']} results computed in {sm['wall_seconds']:.0f} s -> {OUT}")


if __name__ == "__main__":
    main()
