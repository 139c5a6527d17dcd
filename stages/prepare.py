"""Stage `prepare` (dvc.yaml): the dataset split once per seed -> data/prepared/seed<k>/
(`hashtron_lab.stages.train.prepare`)."""
from hashtron_lab.stages.train import prepare

if __name__ == "__main__":
    prepare()
