"""Stage `bootstrap` (dvc.yaml): phase 0 of the backward pipeline -> runs/backward/bootstrap/seed<k>/
(`hashtron_lab.stages.train.bootstrap`)."""
from hashtron_lab.stages.train import bootstrap

if __name__ == "__main__":
    bootstrap()
