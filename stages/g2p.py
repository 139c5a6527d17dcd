"""Stage `g2p` (g2p/dvc.yaml): the phonemizer of every installed language, both pipelines, every
seed, then reports/g2p.{md,html} and metrics/g2p.json (`hashtron_lab.g2p.stage.sweep`)."""
from hashtron_lab.g2p.stage import sweep

if __name__ == "__main__":
    sweep()
