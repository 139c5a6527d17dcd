"""Stage `evaluate@<direction>` (dvc.yaml): metrics, plots, dashboards and MLflow runs of every
seed (`hashtron_lab.stages.evaluate`)."""
from hashtron_lab.stages.evaluate import main

if __name__ == "__main__":
    main()
