"""Stage `ablation`: order (backward | forward) × capacity control (on | off) × selection (gold
zone | round robin) on every workload of `ablation`, each cell over the seeds ->
metrics/ablation.json, reports/ablation.{md,html,png}.

Each cell composes `conf/` (the workload's experiment plus the cell's overrides), so the stage
depends on conf/ as a whole; `ablation` in params.yaml (conf/ablation/: digits | full) says
which workloads and seeds.
"""
from common import load_params, main_guard, say

from hashtron_lab.ablation import run_ablation, write_outputs


def main() -> None:
    main_guard()
    a = load_params()["ablation"]
    say(f"ablation: {len(a['workloads'])} workloads x 8 cells x {len(a['seeds'])} seeds")
    per_seed = run_ablation(a["workloads"], a["seeds"], a["capacity_on"], a["n_jobs"],
                            forward_budget_factor=a["forward_budget_factor"],
                            forward_validation_every=a["forward_validation_every"], log=say)
    doc = write_outputs(per_seed, "metrics/ablation.json", "reports/ablation.md", a)
    for w, e in doc["effects"].items():
        say(f"{w}: backward-forward {e['backward_minus_forward']:+.4f}, capacity on-off {e['capacity_on_minus_off']:+.4f}, "
            f"gold-round robin {e['gold_minus_round_robin']:+.4f}, bytes on/off {e['capacity_on_bytes_ratio']:.2f}")


if __name__ == "__main__":
    main()
