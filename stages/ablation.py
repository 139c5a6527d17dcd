"""Stage `ablation` (dvc.yaml): order x capacity x selection on conf/ablation's workloads ->
metrics/ablation.json, reports/ablation.{md,html,png} (`hashtron_lab.ablation.stage`)."""
from hashtron_lab.ablation import stage

if __name__ == "__main__":
    stage()
