"""``ganglion train``: compose a config with Hydra, check it, and train the model it names.

::

    ganglion train --config-path conf --config-name my_model \\
        trainer.max_epochs=50 model.optim=adam model.optim.lr=.0004 \\
        +trainer.fast_dev_run=true ~model.test_ds

The config has the seed documentation's three sections plus a ``seed``:

``trainer``
    Any ``pytorch_lightning.Trainer`` argument (defaults:
    :class:`ganglion.conf.schema.TrainerConfig`). Arguments that take objects accept
    ``{_target_: <class path>, ...}`` (``callbacks: [{_target_: pytorch_lightning.callbacks.
    EarlyStopping, monitor: val_loss}]``); the class must be of the kind the argument takes.
``exp_manager``
    The experiment directory, loggers, checkpoints and resume
    (:func:`ganglion.exp_manager`, :mod:`ganglion.training.experiment`).
``model``
    ``_target_`` names the model: a name registered through the ``register_models`` hook
    (``ganglion list models``) or the import path of a ``ModelPT`` subclass. Everything else
    is the model's own config. The config saved with the run and in the archive holds the
    class's full import path.
``seed``
    Seeds every generator before the model is built and at each training step (so a resumed
    run draws the same numbers as an uninterrupted one); ``null`` leaves them alone.

Composition, lowest precedence first: the core's dataclass defaults, the YAML named by
``--config-name`` (found in ``--config-path``, in the core's configs or in any installed
plugin's ``register_configs`` dirs; a plugin may also register a dataclass as a config), then
the command line: ``key=value``, ``+key=value`` (add), ``++key=value`` (add or set),
``~key`` (remove), ``group=option`` and the seed's form ``model.optim=adam`` (an optimizer
preset of the ``model/optim`` group; it replaces the optimizer settings but keeps ``sched``).
``--cfg job`` prints the composed config; ``-m`` runs a sweep (``-m model.optim.lr=.1,.01``)
through Hydra's multirun and launchers; ``--help`` lists config groups.

Before anything is trained or created, the whole config is checked: a misspelled key
(``trainer.max_epoch=3``, ``model.optim.lrr=1``) names the key and the closest known one, a
value of the wrong type names the key and the type expected, a value that cannot work
(``trainer.devices=0``, ``model.train_ds.batch_size=0``) names the key and what to set, a YAML
syntax error names the file, line and column. Then: the Trainer is built, the model, the
experiment (``exp_manager``), ``trainer.fit``, ``trainer.test`` when the model has a test set,
and the best model is packaged as a ``.ganglion`` archive; the end of the output says where
the archive, the logs and the checkpoints are. A run that fails after it started leaves a
``FAILED`` file in its run directory. ``+trainer.fast_dev_run=true`` trains one batch and
saves nothing; a scheduler whose ``max_steps`` is null is then sized for the run the config
describes, so fast_dev_run builds the same schedule the real run will.

The package, one idea per module:

* :mod:`~ganglion.training.composition`: Hydra composition (:func:`compose_config`), with
  :mod:`~ganglion.training.composition_errors` for its messages;
* :mod:`~ganglion.training.validation`: the config check (:func:`validate_config`), with
  :mod:`~ganglion.training.trainer_args` for the ``trainer:`` section;
* :mod:`~ganglion.training.run`: one run (:func:`train`, :class:`TrainResult`);
* :mod:`~ganglion.training.command`: the command line (:func:`run_argv`);
* :mod:`~ganglion.training.experiment`: ``exp_manager``, with
  :mod:`~ganglion.training.run_directory`, :mod:`~ganglion.training.loggers`,
  :mod:`~ganglion.training.checkpointing`, :mod:`~ganglion.training.resume` and
  :mod:`~ganglion.training.callbacks`;
* :mod:`~ganglion.training.durations`: ``"HH:MM:SS"`` durations.

Importing this package imports neither torch nor Lightning; training does.
"""

from ganglion.training.command import run_argv
from ganglion.training.composition import compose_config
from ganglion.training.run import TrainResult, train
from ganglion.training.validation import validate_config

__all__ = ["TrainResult", "compose_config", "run_argv", "train", "validate_config"]
