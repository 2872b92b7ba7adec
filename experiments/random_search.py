"""Example random search: learning rates of G and D (TTUR) and R1 strength for the hinge recipe.

    python -m experiments.sweep --sweep=experiments/random_search.py --workdir=runs/random_search

Eight points drawn log-uniformly with search_seed 0 (the same eight on every invocation), two
seeds each, 500 steps at 32x32.
"""

from experiments import sweep


def get_sweep() -> sweep.Sweep:
    return sweep.Sweep(
        config="configs/dcgan_hinge_sn.py",
        search="random",
        num_trials=8,
        search_seed=0,
        axes={
            "learning_rate": sweep.LogUniform(5e-5, 5e-4),
            "d_learning_rate": sweep.LogUniform(1e-4, 1e-3),
            "r1_gamma": [0.0, 0.1, 1.0],
        },
        seeds=(0, 1),
        overrides={"image_size": 32, "num_train_steps": 500},
    )
