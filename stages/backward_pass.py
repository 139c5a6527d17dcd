"""Stage `backward@<pass>` (dvc.yaml): more backward sweeps from the pass before ->
runs/backward/<pass>/seed<k>/ (`hashtron_lab.stages.train.backward_pass`)."""
from hashtron_lab.stages.train import backward_pass

if __name__ == "__main__":
    backward_pass()
