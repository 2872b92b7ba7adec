"""Evaluation inside the training loop, and the best checkpoint it keeps."""

import json
import math
import pathlib

import jax
from absl import logging

from gan.data import pipeline
from gan.evaluation import protocol
from gan.training import checkpointing


class PeriodicEvaluation:
    """Evaluation inside the training loop, every `config.eval_every_steps` and at the last step.

    Each evaluation scores `config.num_eval_samples` images with `config.eval_metrics`, writes
    the scores to TensorBoard (`eval/...`), to the console and to WORKDIR/eval.jsonl (with the
    protocol), and keeps the checkpoint with the best primary score (the first metric) in
    WORKDIR/best_checkpoint, next to `best.json` saying which step and score it is.
    """

    def __init__(self, config, workdir: pathlib.Path, data: pipeline.TrainingData):
        """Loads the extractor, so that a missing one stops the run before training.

        Raises:
          UserError: unknown metrics, or the extractor's weights are missing.
        """
        self.config, self.workdir, self.data = config, workdir, data
        self.names = tuple(name.strip() for name in config.eval_metrics.split(","))
        extractor_name = protocol.default_extractor(config.dataset)
        protocol.check_request(self.names, extractor_name, config.num_eval_samples, config)
        self.extractor = None
        if protocol.needs_features(self.names):
            self.extractor = protocol.create_extractor(extractor_name, config)
        self.score_key, self.lower_is_better = protocol.PRIMARY_SCORES[self.names[0]]
        self.best_manager = checkpointing.create_manager(
            workdir, config, checkpointing.BEST_DIRECTORY, keep=1, remove_unfinished=True
        )
        best_file = workdir / checkpointing.BEST_DIRECTORY / "best.json"
        self.best = json.loads(best_file.read_text()) if best_file.exists() else None

    def __call__(self, state, step: int, writer) -> dict:
        """Scores `state`, reports the scores and saves the state if it is the best so far."""
        result = protocol.evaluate(
            state, self.config, self.names, self.config.num_eval_samples, self.extractor
        )
        scalars = {k: v for k, v in result.items() if k not in ("step", "protocol")}
        writer.write_scalars(step, {f"eval/{k}": v for k, v in scalars.items()})
        chief = jax.process_index() == 0  # every process has the same scores; one writes them
        if chief:
            logging.info(
                "Evaluation at step %d: %s", step, protocol.append_result(self.workdir, result)
            )
        score = result[self.score_key]
        better = self.best is None or (score < self.best["score"]) == self.lower_is_better
        if math.isfinite(score) and better:  # a NaN from a diverged state is never the best
            epoch, batch = divmod(step, self.data.steps_per_epoch)
            position = checkpointing.DataPosition(epoch, batch, self.data.source.num_examples)
            checkpointing.save(self.best_manager, step, state, self.config, position)
            self.best_manager.wait_until_finished()
            self.best = {"step": step, "metric": self.score_key, "score": score}
            best_file = self.workdir / checkpointing.BEST_DIRECTORY / "best.json"
            if chief:
                best_file.write_text(json.dumps(self.best))
        return result
