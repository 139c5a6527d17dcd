"""Stage `compare` (dvc.yaml): backward vs forward, the report and its MLflow parent run
(`hashtron_lab.stages.compare`)."""
from hashtron_lab.stages.compare import main

if __name__ == "__main__":
    main()
