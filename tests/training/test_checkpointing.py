"""checkpointing.write_failures_explained: which write failures become the one clear message."""

import pytest

from gan.errors import UserError
from gan.training import checkpointing


@pytest.mark.parametrize(
    "error",
    [
        OSError(28, "No space left on device"),
        RuntimeError("TensorStore: ... os_error_code='28' ..."),  # an Orbax writer thread
        RuntimeError(  # TensorFlow's summary writer, as it reports a full disk
            "{{function_node __wrapped__WriteSummary}} .../events.out.tfevents.1 No space left "
            "on device Could not flush events file. [Op:WriteSummary]' occurred ASYNCHRONOUSLY."
        ),
    ],
    ids=["os", "orbax", "tensorboard"],
)
def test_a_full_disk_becomes_one_message_naming_the_checkpoints_kept(tmp_path, error):
    message = r"failed \(No space left on device\)\. Training stopped"
    with pytest.raises(UserError, match=message), checkpointing.write_failures_explained(tmp_path):
        raise error


def test_other_errors_pass_through(tmp_path):
    with pytest.raises(ValueError, match="a bug"), checkpointing.write_failures_explained(tmp_path):
        raise ValueError("a bug")
