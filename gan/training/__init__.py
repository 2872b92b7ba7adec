"""Training: the train state and step, the loop that runs, traces, checkpoints and evaluates it,
and what keeps a long run safe (config validation, preemption, the workdir lock, restores).

`train.train_and_evaluate(config, workdir)` is the entry point `gan.main` calls.
"""
