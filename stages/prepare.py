"""Stage `prepare`: load and split the dataset once per seed -> data/prepared/seed<k>/.

The split is seeded like a single run's (`python -m hashtron_lab seed=k` sees the same
data), and the encoding adapts to the model's first layer (its width = feature count).
"""
import shutil

from common import DIRECTIONS, PREPARED, config_for, load_params, main_guard, say, seed_dir

from hashtron_lab.data import save_dataset
from hashtron_lab.experiment import prepare_dataset
from hashtron_lab.model.architecture import Architecture


def main() -> None:
    main_guard()
    params = load_params()
    arch = Architecture.from_spec(params["model"])
    shutil.rmtree(PREPARED, ignore_errors=True)
    for seed in params["main"]["seeds"]:
        ds = prepare_dataset(config_for(params, DIRECTIONS[0], seed), arch)
        save_dataset(ds, seed_dir(PREPARED, seed))
        say(f"prepared {ds.name} seed {seed}: {len(ds.y_train)} train / {len(ds.y_val)} val / "
            f"{len(ds.y_test)} test, {ds.n_features} features, {ds.n_classes} classes")


if __name__ == "__main__":
    main()
