"""ModelPT: a LightningModule and a NeuralModule built from one config, with data and
optimization set up from it, listing, summaries, Lightning checkpoints, and restore_from
building models without paying for their random initialisation."""

from __future__ import annotations

import contextvars
import warnings

import pytest
import pytorch_lightning as pl
import torch
from ganglion_train_fixtures import quiet_trainer
from omegaconf import DictConfig, OmegaConf

import ganglion
from ganglion import ModelPT, NeuralModule
from ganglion.archive import ArchiveError, UnsafeArchiveError
from ganglion.errors import ConfigError, UnknownNameError
from ganglion.targets import allow_targets

DIM = 4


class PairDataset(torch.utils.data.Dataset):
    """``n`` random (x, y) pairs of width ``dim``."""

    def __init__(self, n: int, dim: int = DIM, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, dim, generator=g)
        self.y = torch.randn(n, dim, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Regressor(ModelPT):
    """A linear regressor; counts how often it is constructed."""

    built = 0

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        type(self).built += 1
        self.net = torch.nn.Linear(self.cfg.dim, self.cfg.dim)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))


class WideRegressor(Regressor):
    """A subclass with one more parameter, initialised to a constant (through nn.init)."""

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.scale = torch.nn.Parameter(torch.empty(self.cfg.dim))
        torch.nn.init.constant_(self.scale, 3.0)


class OtherModel(ModelPT):
    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.w = torch.nn.Parameter(torch.zeros(2))


class RandomBufferModel(ModelPT):
    """Holds a non-persistent buffer filled at random: not in the archive, so a restore must
    build it for real rather than leave it uninitialised."""

    built = 0

    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        type(self).built += 1
        self.net = torch.nn.Linear(DIM, DIM)
        projection = torch.empty(DIM, DIM)
        torch.nn.init.normal_(projection)
        self.register_buffer("projection", projection / 10, persistent=False)


def _cfg(**extra):
    return {"dim": DIM, **extra}


def _ds(n=8, **loader):
    return {"_target_": f"{__name__}.PairDataset", "n": n, "batch_size": 4, **loader}


@pytest.fixture(autouse=True)
def allow_this_module():
    """The datasets and models below are the user's own: allowed, as a user would."""
    with allow_targets(__name__):
        yield


def _without_allowances(call):
    """``call()`` in a fresh context: no ``allow_targets`` block of the fixture above."""
    return contextvars.Context().run(call)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))
    Regressor.built = 0
    RandomBufferModel.built = 0


@pytest.fixture
def registered():
    ganglion.register_model("Regressor", Regressor)
    ganglion.register_model("WideRegressor", WideRegressor)
    ganglion.register_model("OtherModel", OtherModel)
    ganglion.register_model("RandomBufferModel", RandomBufferModel)


def _trainer(tmp_path, **kwargs):
    return quiet_trainer(**{"max_epochs": 1, "default_root_dir": str(tmp_path), **kwargs})


# -- basics -----------------------------------------------------------------------------------
def test_modelpt_is_a_lightning_module_and_a_neural_module():
    model = Regressor(_cfg())
    assert isinstance(model, pl.LightningModule)
    assert isinstance(model, NeuralModule)


def test_cfg_is_a_dictconfig_from_a_dict_or_a_dataclass_and_is_the_lightning_hparam():
    from dataclasses import dataclass

    @dataclass
    class Config:
        dim: int = DIM

    for given in (_cfg(), OmegaConf.create(_cfg()), Config()):
        model = Regressor(given)
        assert isinstance(model.cfg, DictConfig) and model.cfg.dim == DIM
        assert model.hparams["cfg"] == {"dim": DIM}
    model.cfg = {"dim": DIM, "note": "changed"}
    assert model.cfg.note == "changed" and model.hparams["cfg"]["note"] == "changed"
    with pytest.raises(ConfigError, match="must be a mapping"):
        Regressor(["not", "a", "mapping"])


def test_config_dict_round_trip_names_the_model_class(registered):
    model = Regressor(_cfg())
    cfg = model.to_config_dict()
    assert cfg._target_ == f"{__name__}.Regressor"
    rebuilt = ModelPT.from_config_dict(cfg)
    assert type(rebuilt) is Regressor and rebuilt.cfg.dim == DIM
    by_name = ModelPT.from_config_dict({"_target_": "Regressor", "dim": 2})
    assert by_name.net.in_features == 2
    with pytest.raises(ConfigError, match="not a WideRegressor"):
        WideRegressor.from_config_dict({"_target_": "OtherModel"})


def test_summarize_counts_parameters():
    summary = Regressor(_cfg()).summarize()
    assert summary.total_parameters == DIM * DIM + DIM
    assert "net" in str(summary)


# -- data -------------------------------------------------------------------------------------
def test_datasets_are_set_up_from_the_config_when_a_trainer_is_given(tmp_path):
    cfg = _cfg(train_ds=_ds(12), validation_ds=_ds(8, shuffle=False), test_ds=_ds(4))
    model = Regressor(cfg, trainer=_trainer(tmp_path))
    train = model.train_dataloader()
    assert len(train.dataset) == 12 and train.batch_size == 4
    assert train.sampler.shuffle  # training data is shuffled by default
    assert len(model.val_dataloader().dataset) == 8
    assert not model.val_dataloader().sampler.shuffle
    assert len(model.test_dataloader().dataset) == 4
    assert model.validation_names == ["validation"]


def test_several_validation_sets_give_several_named_dataloaders():
    model = Regressor(_cfg())
    model.setup_validation_data([dict(_ds(4), name="clean"), dict(_ds(8), name="noisy")])
    loaders = model.val_dataloader()
    assert [len(dl.dataset) for dl in loaders] == [4, 8]
    assert model.validation_names == ["clean", "noisy"]


def test_dataset_configs_that_give_no_loader_are_dropped_with_their_names():
    class Optional(Regressor):  # a config with skip: true asks for no data
        def _setup_dataloader_from_config(self, config, *, split, key):
            if config.get("skip"):
                return None
            return super()._setup_dataloader_from_config(config, split=split, key=key)

    model = Optional(_cfg())
    model.setup_validation_data([dict(_ds(4), name="clean"), {"skip": True, "name": "gone"}])
    assert len(model.val_dataloader().dataset) == 4  # one loader left: no list
    assert model.validation_names == ["clean"]
    model.setup_validation_data([{"skip": True}, _ds(4), _ds(8)])
    assert [len(dl.dataset) for dl in model.val_dataloader()] == [4, 8]
    assert model.validation_names == ["validation_1", "validation_2"]
    model.setup_test_data([{"skip": True}, {"skip": True}])
    assert model.test_dataloader() == []  # what Lightning takes for "no test data"


def test_a_dataset_config_without_target_names_its_key_and_the_fix():
    model = Regressor(_cfg())
    with pytest.raises(ConfigError, match=r"model.train_ds: no _target_.*_setup_dataloader"):
        model.setup_training_data({"manifest_filepath": "train.json", "batch_size": 2})
    with pytest.raises(
        ConfigError,
        match=r"model.validation_ds\[1\]._target_: 'nowhere.Dataset' is neither a registered name",
    ):
        model.setup_validation_data([_ds(), {"_target_": "nowhere.Dataset"}])


def test_without_training_data_the_dataloader_error_says_how_to_add_it():
    with pytest.raises(ConfigError, match="set model.train_ds"):
        Regressor(_cfg()).train_dataloader()


# -- optimization -----------------------------------------------------------------------------
def test_setup_optimization_builds_registered_optimizer_and_scheduler():
    model = Regressor(
        _cfg(
            optim={
                "name": "sgd",
                "lr": 0.1,
                "momentum": 0.9,
                "sched": {"name": "StepLR", "step_size": 2},
            }
        )
    )
    optimizer, scheduler = model.setup_optimization()
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["lr"] == 0.1 and optimizer.defaults["momentum"] == 0.9
    assert isinstance(scheduler["scheduler"], torch.optim.lr_scheduler.StepLR)
    assert model.configure_optimizers() == {"optimizer": optimizer, "lr_scheduler": scheduler}


def test_optimizers_registered_at_run_time_are_usable_by_name():
    class Halving(torch.optim.SGD):
        pass

    ganglion.register_optimizer("halving", Halving)
    model = Regressor(_cfg(optim={"name": "halving", "lr": 0.5}))
    assert isinstance(model.configure_optimizers(), Halving)


def test_unknown_optimizer_names_the_key_and_close_matches():
    model = Regressor(_cfg(optim={"name": "adamm", "lr": 0.1}))
    with pytest.raises(
        UnknownNameError, match=r"Unknown optimizer 'adamm' \(model.optim.name\).*'adam'"
    ):
        model.configure_optimizers()
    with pytest.raises(ConfigError, match="model.optim is missing"):
        Regressor(_cfg()).setup_optimization()


def test_trainer_fits_the_model_and_load_from_checkpoint_rebuilds_it_from_cfg(tmp_path):
    cfg = _cfg(
        train_ds=_ds(8),
        validation_ds=[_ds(4), _ds(4)],
        optim={"name": "adam", "lr": 0.05, "sched": {"name": "StepLR", "step_size": 1}},
    )
    trainer = _trainer(tmp_path, max_epochs=2)
    model = Regressor(cfg, trainer=trainer)
    before = model.net.weight.detach().clone()
    trainer.fit(model)
    assert not torch.equal(model.net.weight, before)  # it trained
    ckpt = tmp_path / "model.ckpt"
    trainer.save_checkpoint(ckpt)
    restored = Regressor.load_from_checkpoint(ckpt)  # torch.load(weights_only=True) inside
    assert torch.equal(restored.net.weight, model.net.weight)
    assert restored.cfg.optim.name == "adam"


# -- pretrained listing -------------------------------------------------------------------------
def test_list_available_models_returns_the_catalogue_of_the_class_and_its_subclasses():
    entry = {
        "name": "reg-small",
        "description": "tiny",
        "url": "https://example.org/r.ganglion",
        "sha256": "0" * 64,
    }
    wide = dict(entry, name="reg-wide")
    ganglion.register_model("Regressor", Regressor, pretrained=[entry])
    ganglion.register_model("WideRegressor", WideRegressor, pretrained=[wide])
    ganglion.register_model("OtherModel", OtherModel)
    assert [i.name for i in Regressor.list_available_models()] == ["reg-small", "reg-wide"]
    assert [i.name for i in WideRegressor.list_available_models()] == ["reg-wide"]
    assert OtherModel.list_available_models() == []
    (info,) = [i for i in ModelPT.list_available_models() if i.name == "reg-small"]
    assert (info.model, info.url, info.sha256) == ("Regressor", entry["url"], "0" * 64)


# -- restoring --------------------------------------------------------------------------------
def test_modelpt_restore_from_finds_the_registered_class(registered, tmp_path):
    model = Regressor(_cfg())
    path = model.save_to(tmp_path / "reg.ganglion")
    restored = ModelPT.restore_from(path)
    assert type(restored) is Regressor
    assert torch.equal(restored.net.weight, model.net.weight)
    assert torch.equal(restored.net.bias, model.net.bias)


def test_restore_draws_no_random_numbers_and_builds_the_model_once(registered, tmp_path):
    path = Regressor(_cfg()).save_to(tmp_path / "reg.ganglion")
    Regressor.built = 0
    torch.manual_seed(1234)
    state = torch.random.get_rng_state()
    Regressor.restore_from(path)
    assert torch.equal(torch.random.get_rng_state(), state)  # no init drew from the RNG
    assert Regressor.built == 1
    Regressor(_cfg())
    assert not torch.equal(torch.random.get_rng_state(), state)  # an ordinary build does


def test_state_the_archive_does_not_hold_is_built_for_real(registered, tmp_path):
    model = RandomBufferModel(_cfg())
    path = model.save_to(tmp_path / "rb.ganglion")
    RandomBufferModel.built = 0
    restored = ModelPT.restore_from(path)
    # the meta build left the buffer without data: built again with only parameters on meta
    assert RandomBufferModel.built == 2
    assert restored.projection.device.type == "cpu"
    assert torch.isfinite(restored.projection).all() and restored.projection.abs().sum() > 0
    assert torch.equal(restored.net.weight, model.net.weight)


def test_strict_restore_names_missing_keys_and_lenient_restore_initialises_them(
    registered, tmp_path
):
    model = Regressor(_cfg())
    path = model.save_to(tmp_path / "reg.ganglion")
    with pytest.raises(
        ArchiveError, match=r"do not fit WideRegressor: missing from the archive: 'scale'"
    ):
        WideRegressor.restore_from(path)
    WideRegressor.built = 0
    wide = WideRegressor.restore_from(path, strict=False)
    # the meta build leaves 'scale' without data: built once more, for real (a build with
    # parameters on meta would leave it there too, so it is skipped)
    assert WideRegressor.built == 2
    assert torch.equal(wide.scale, torch.full((DIM,), 3.0))  # its own init, not garbage
    assert torch.equal(wide.net.weight, model.net.weight)


def test_restore_on_a_subclass_checks_the_archived_class(registered, tmp_path):
    path = OtherModel(_cfg()).save_to(tmp_path / "other.ganglion")
    with pytest.raises(ArchiveError, match="holds a OtherModel .*, not a Regressor"):
        Regressor.restore_from(path)
    assert type(OtherModel.restore_from(path)) is OtherModel


def test_an_unregistered_model_restores_only_through_its_own_class(tmp_path):
    path = Regressor(_cfg()).save_to(tmp_path / "reg.ganglion")  # Regressor not registered
    with pytest.raises(UnsafeArchiveError, match="neither a registered name"):
        _without_allowances(lambda: ModelPT.restore_from(path))
    assert type(Regressor.restore_from(path)) is Regressor  # the caller vouches for it


def test_return_config_and_override_config(registered, tmp_path):
    path = Regressor(_cfg(note="packed")).save_to(tmp_path / "reg.ganglion")
    Regressor.built = 0
    cfg = ModelPT.restore_from(path, return_config=True)
    assert isinstance(cfg, DictConfig) and cfg.note == "packed" and Regressor.built == 0
    override = tmp_path / "override.yaml"
    override.write_text("dim: 4\nnote: overridden\n")
    assert ModelPT.restore_from(path, override_config_path=override).cfg.note == "overridden"
    assert ModelPT.restore_from(path, override_config_path={"dim": 4}).cfg.get("note") is None


def test_a_restore_with_an_override_config_still_stamps_the_file_as_verified(registered, tmp_path):
    import shutil

    from ganglion.archive import ModelArchive

    saved = Regressor(_cfg()).save_to(tmp_path / "reg.ganglion")
    path = shutil.copy(saved, tmp_path / "copy.ganglion")  # another file: not verified yet
    with ModelArchive.open(path) as archive:
        assert not archive.verified_before
    ModelPT.restore_from(path, override_config_path={"dim": DIM})
    with ModelArchive.open(path) as archive:
        assert archive.verified_before  # the next restore does not rehash the weights


def test_map_location_puts_the_model_on_the_device(registered, tmp_path):
    path = Regressor(_cfg()).save_to(tmp_path / "reg.ganglion")
    model = ModelPT.restore_from(path, map_location=torch.device("cpu"))
    assert model.net.weight.device.type == "cpu"
    with pytest.raises((RuntimeError, AssertionError)):
        ModelPT.restore_from(path, map_location="cuda:99")  # no such device here


def test_save_to_writes_only_on_global_rank_zero(tmp_path):
    class NotRankZero:
        is_global_zero = False

    model = Regressor(_cfg())
    model._trainer = NotRankZero()
    assert model.save_to(tmp_path / "reg.ganglion") is None
    assert not (tmp_path / "reg.ganglion").exists()


def test_loading_emits_no_weights_only_warning(registered, tmp_path):
    path = Regressor(_cfg()).save_to(tmp_path / "reg.ganglion")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        ModelPT.restore_from(path)
