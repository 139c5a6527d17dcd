"""Stage `train_forward` (dvc.yaml): the forward baseline -> runs/forward/seed<k>/
(`hashtron_lab.stages.train.train_forward`)."""
from hashtron_lab.stages.train import train_forward

if __name__ == "__main__":
    train_forward()
