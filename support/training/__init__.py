"""The training loop of notebooks 01 and 02 and its safety nets.

`loop.fit` is the loop, and it imports the rest: `checkpoints` (save and resume, built on
`history`, the run's record, and `storage`, the checkpoint folder on disk: lock, free space),
`guards` (divergence, Ctrl-C and SIGTERM), `optimizers` and `steps` (one update).
"""

from support.training.loop import (
    History,
    TrainingDiverged,
    fit,
    make_optimizer,
    progress_bar,
    train_step,
)

__all__ = ["History", "TrainingDiverged", "fit", "make_optimizer", "progress_bar", "train_step"]
