"""Stage `g2p_baselines` (g2p/dvc.yaml): every baseline of every language x seed ->
reports/g2p/baselines/ (`hashtron_lab.g2p.stage.baselines`)."""
from hashtron_lab.g2p.stage import baselines

if __name__ == "__main__":
    baselines()
