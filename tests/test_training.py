"""The Hydra + Lightning pipeline: every experiment runs, loggers get media, resume, DDP."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ddsp.spectral import functional as SF
from ddsp.training import ROOT, compose_config, train

CONF = ROOT / "conf"
SHIPPED_SPEECH = ROOT / "data" / "fillets_cs"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
SMALL = [
    "data.batch_size=4",
    "data.segment_seconds=0.5",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "model.n_audio_examples=1",  # media logging is tested; four plots per validation are slow
]


def _cfg(tmp_path: Path, *overrides: str):
    cfg = compose_config(*SMALL, *overrides, f"paths.output_dir={tmp_path}")
    OmegaConf.resolve(cfg)
    return cfg


def test_slurm_launcher_config_composes():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.gpus_per_node == 1


def test_there_are_experiments():
    assert "ddsp_hpn" in EXPERIMENTS


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_fast_dev_run(experiment, tmp_path):
    # paper-scale configs (VCTK on a GPU) run their model and optimiser on the shipped data, and
    # so do the many-voices ones (their folder is built by `make voices`, not shipped: a fresh
    # machine has none, and this test must not depend on what an earlier session downloaded)
    local = []
    if experiment.endswith("_vctk"):
        local = ["data=fillets_cs", "trainer=cpu"]
    elif experiment.endswith("_voices"):
        local = [f"data.root={SHIPPED_SPEECH}"]
    overrides = [f"experiment={experiment}", *local, "debug=fdr", "logger=none"]
    metrics = train(_cfg(tmp_path, *overrides))
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))


def test_double_precision_trains(tmp_path):
    """``trainer.precision=64-true``: Lightning's model summary fed the model (converted to
    float64) a float32 example, and the encoder's first convolution failed ("Input type (float)
    and bias type (double) should be the same")."""
    overrides = ["experiment=lpc_vocoder", "debug=fdr", "logger=none", "trainer.precision=64-true"]
    metrics = train(_cfg(tmp_path, *overrides))
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))


def test_paper_scale_config_keeps_the_paper_settings():
    cfg = compose_config("experiment=lpc_vocoder_vctk")
    assert cfg.data.sample_rate == 24000 and cfg.data.hop_length == 240
    assert cfg.data.batch_size == 64 and cfg.data.segment_seconds == 2.0
    assert cfg.model.optimizer.lr == 1e-4 and cfg.trainer.gradient_clip_val == 0.5
    assert cfg.model.synth.lpc_order == 22 and cfg.trainer.accelerator == "gpu"


def test_model_summary_sizes_and_counts_a_one_second_example(tmp_path):
    # Lightning's summary at fit start runs example_input_array: sizes and a FLOPs column that
    # is not 0 (matrix products and convolutions; FlopCounterMode counts no FFT)
    from hydra.utils import instantiate
    from lightning.pytorch.utilities.model_summary import ModelSummary

    cfg = _cfg(tmp_path)
    model = instantiate(cfg.model, loss=instantiate(cfg.loss), metric=instantiate(cfg.metric))
    summary = ModelSummary(model, max_depth=1)
    sr = cfg.data.sample_rate
    assert summary.layer_names[:2] == ["synth", "encoder"]
    assert summary.out_sizes[0] == [1, sr] and summary.in_sizes[1][0] == [1, sr]
    flops = {k: sum(v.values()) for k, v in summary.flop_counts.items()}
    assert flops["encoder"] > 1e8 and summary.total_flops >= flops["encoder"]


STEREO_LOSSES = {"sum_and_difference"}


@pytest.mark.parametrize(
    "loss", sorted(p.stem for p in (CONF / "loss").glob("*.yaml") if p.stem not in STEREO_LOSSES)
)
def test_any_loss_by_config(loss, tmp_path):
    # the config builds a loss that trains: instantiated as train.py does, one step of the
    # flagship's model on a real batch, finite value and gradients (a full fast-dev run per
    # loss config, with media, showed nothing more)
    from hydra.utils import instantiate

    cfg = _cfg(tmp_path, f"loss={loss}")
    model = instantiate(cfg.model, loss=instantiate(cfg.loss), metric=instantiate(cfg.metric))
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    y = model(batch)
    value = model.loss(y.unsqueeze(1), batch["audio"].unsqueeze(1))
    value.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert torch.isfinite(value) and grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("loss", sorted(STEREO_LOSSES))
def test_stereo_loss_configs_instantiate(loss, tmp_path):
    from hydra.utils import instantiate

    fn = instantiate(_cfg(tmp_path, f"loss={loss}").loss)
    assert torch.isfinite(fn(torch.randn(2, 2, 8000), torch.randn(2, 2, 8000)))


def _short(tmp_path, logger, *extra):
    return _cfg(
        tmp_path,
        f"logger={logger}",
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
        "test=false",
        *extra,
    )


def test_wandb_offline_run_holds_audio_and_spectrograms(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    train(_short(tmp_path, "wandb"))
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    media = runs[0] / "files" / "media"
    assert list(media.rglob("*.wav")), "no audio in the wandb run"
    assert list(media.rglob("*.png")), "no spectrogram images in the wandb run"


def test_csv_logger_writes_media_files(tmp_path):
    train(_short(tmp_path, "csv"))
    assert list(tmp_path.rglob("media/val/step*/0_resynthesis.wav"))
    assert list(tmp_path.rglob("media/val/step*/0_spectrograms.png"))
    assert list(tmp_path.rglob("metrics.csv"))


def test_tensorboard_logger(tmp_path):
    train(_short(tmp_path, "tensorboard"))
    assert list(tmp_path.rglob("events.out.tfevents*"))


def test_resume_continues_global_step_and_optimizer(tmp_path):
    first = tmp_path / "first"
    train(_short(first, "none", "trainer.max_steps=3", "trainer.val_check_interval=3"))
    last = first / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 3
    second = tmp_path / "second"
    train(
        _short(
            second,
            "none",
            "trainer.max_steps=5",
            "trainer.val_check_interval=1",
            f"ckpt_path={last}",
        )
    )
    ckpt = torch.load(second / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 5
    # Adam's per-parameter step counter went on from 3: the optimiser state was restored
    adam_steps = {float(s["step"]) for s in ckpt["optimizer_states"][0]["state"].values()}
    assert adam_steps == {5.0}
    # only steps 4 and 5 were trained in the second run: one validation per step from step 4
    assert sorted(p.name for p in (second / "media" / "val").iterdir()) == [
        "step0000004",
        "step0000005",
    ]


def test_last_checkpoint_is_the_last_step_not_the_last_improvement(tmp_path):
    # lr 0: the validation MSS never improves after the first validation, so the best checkpoint
    # stays at step 1 while last.ckpt (what ckpt_path= resumes from) must follow the training
    first = tmp_path / "first"
    train(_short(first, "none", "trainer.max_steps=3", "trainer.val_check_interval=1",
                 "model.optimizer.lr=0"))  # fmt: skip
    ckpts = sorted(p.name for p in (first / "checkpoints").iterdir())
    assert len(ckpts) == 2 and ckpts[1].startswith("step000001-"), ckpts
    last = torch.load(first / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == 3
    # training that ends between validations (or before the first) still leaves its last step
    second = tmp_path / "second"
    train(_short(second, "none", "trainer.max_steps=3", "trainer.val_check_interval=2"))
    last = torch.load(second / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == 3


def test_init_from_starts_a_new_run_from_the_weights(tmp_path):
    """Fine-tuning: the shipped model's weights, a fresh step count and optimiser (lr 0 here,
    so the weights must come out exactly as they went in)."""
    from ddsp.models.checkpoint import PRETRAINED

    train(_short(tmp_path, "none", "experiment=lpc_vocoder", "init_from=pretrained",
                 "trainer.max_steps=1", "trainer.val_check_interval=1",
                 "model.optimizer.lr=0"))  # fmt: skip
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 1
    assert ckpt["ddsp_config"]["init_from"] == "pretrained"
    theirs = torch.load(PRETRAINED, weights_only=False)["state_dict"]
    assert set(theirs) <= set(ckpt["state_dict"])
    for k, v in theirs.items():
        assert torch.equal(ckpt["state_dict"][k], v), k


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.synth.lpc_order=20", "model.synth.lpc_order: 22 there, 20 here"),
        ("model.encoder.hidden=128", "model.encoder.hidden: 256 there, 128 here"),
        ("data.sample_rate=22050", "set data.sample_rate=16000"),
        ("data.hop_length=80", "set data.hop_length=160"),
        ("ckpt_path=x.ckpt", "give one"),
    ],
)
def test_init_from_names_what_does_not_fit(tmp_path, override, message):
    cfg = _short(tmp_path, "none", "experiment=lpc_vocoder", "init_from=pretrained", override)
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        train(cfg)
    assert not (tmp_path / "checkpoints").exists()


def test_init_from_warns_when_the_weights_fit_another_setting(tmp_path):
    cfg = _short(tmp_path, "none", "experiment=lpc_vocoder", "init_from=pretrained",
                 "model.synth.max_radius=0.95", "model.optimizer.lr=1e-5")  # fmt: skip
    with pytest.warns(UserWarning, match=r"model\.synth\.max_radius: 0\.99 there, 0\.95 here$"):
        train(cfg)  # the optimiser's lr is a fine-tuning run's own: not named


def test_init_from_the_shipped_model_into_another_vocoder(tmp_path):
    cfg = _short(tmp_path, "none", "experiment=ddsp_hpn", "init_from=pretrained")
    with pytest.raises(ValueError, match=r"GlottalFlowLPC there, ddsp\.synth\.HarmonicPlusNoise "
                       r"here.*experiment=finetune builds it"):  # fmt: skip
        train(cfg)


def test_init_from_a_missing_file(tmp_path):
    cfg = _short(tmp_path, "none", f"init_from={tmp_path / 'nope.ckpt'}")
    with pytest.raises(FileNotFoundError, match="nope.ckpt: no such checkpoint"):
        train(cfg)


def test_seed_makes_runs_repeatable(tmp_path):
    a = train(_short(tmp_path / "a", "none", "seed=7"))
    b = train(_short(tmp_path / "b", "none", "seed=7"))
    assert a["val/mss"] == pytest.approx(b["val/mss"], rel=1e-6)


@pytest.mark.slow
def test_ddp_on_cpu_runs_five_steps(tmp_path):
    cmd = [
        sys.executable,
        "train.py",
        "trainer=ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "trainer.max_steps=5",
        "trainer.val_check_interval=5",
        "logger=csv",
        "test=false",
        *SMALL,
        f"hydra.run.dir={tmp_path}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Starting with 2 processes" in out.stdout + out.stderr
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 5


def test_checkpoint_rebuilds_the_model_and_resynthesises(tmp_path, caplog):
    from ddsp.models import load_vocoder
    from ddsp.resynth import main as resynth

    train(_short(tmp_path, "none", "experiment=lpc_vocoder"))
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    model, cfg = load_vocoder(ckpt)
    assert type(model.synth).__name__ == "GlottalFlowLPC" and cfg.data.sample_rate == 16000
    wav = sorted((ROOT / "data" / "fillets_cs").glob("*.ogg"))[0]
    out, png = tmp_path / "out.wav", tmp_path / "out.png"
    resynth([str(wav), str(out), f"ckpt={ckpt}", "--f0-scale", "1.2", "--plot", str(png)])
    import soundfile as sf

    y, sr = sf.read(out)
    assert sr == 16000 and len(y) > 16000 and np.isfinite(y).all()
    assert png.stat().st_size > 10_000
    # the streaming decoder, 3 frames a call, gives the same audio up to the noise draws
    from ddsp.resynth import resynthesize

    offline = resynthesize(model, cfg, wav)["output"]
    streamed = resynthesize(model, cfg, wav, block_frames=3)["output"]
    assert streamed.shape == offline.shape and torch.isfinite(streamed).all()
    # long-term spectra (mean power over frames), in dB: the same within 1 dB on average
    ltas = [
        10 * SF.magnitude(SF.stft(y, 512, 128)).square().mean(-1).log10()
        for y in (offline, streamed)
    ]
    assert (ltas[0] - ltas[1]).abs().mean() < 1.0, (ltas[0] - ltas[1]).abs().mean()
    from ddsp.evaluate import main as evaluate

    out = [f"ckpt={ckpt}", "--out", str(tmp_path / "eval.json")]
    caplog.set_level(logging.INFO)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = evaluate([*out, "--table", str(tmp_path / "table.md"), "--quick"])
    # a clean run: none of Lightning's adverts or its own deprecations reach the user
    assert "litlogger" not in caplog.text
    noise = ("LeafSpec", "does not have many workers", "pkg_resources")
    assert not [w for w in caught if any(n in str(w.message) for n in noise)]
    split = results["test_split"]
    for key in ("test/mss", "test/mcd_db", "rtf/encoder_1thr", "rtf/decoder_1thr", "parameters"):
        assert np.isfinite(split[key]) and split[key] > 0, key
    assert results["comparison"]["ours"]["files"] == 2  # --quick: two files
    assert (tmp_path / "eval.json").is_file()
    # the same files through WORLD and the classical LPC vocoder, in one table
    table = (tmp_path / "table.md").read_text()
    assert all(name in table for name in ("ours", "WORLD", "classical LPC", "PESQ-WB"))
    world = results["comparison"]["WORLD"]
    assert (
        1.0 <= world["pesq_wb"] <= 4.7
        and world["mss"] < results["comparison"]["classical LPC"]["mss"]
    )
    import shutil

    from conftest import DATA

    other = tmp_path / "any_folder"
    other.mkdir()
    for f in sorted(DATA.glob("*.ogg"))[:2]:
        shutil.copy(f, other)
    folder = evaluate([f"ckpt={ckpt}", f"data.root={other}"])  # any folder: every file
    assert folder["comparison"]["ours"]["files"] == 2
    with pytest.raises(ValueError, match="not a ddsp-lpc checkpoint"):
        bad = tmp_path / "bad.ckpt"
        torch.save({"state_dict": {}}, bad)
        load_vocoder(bad)


def test_test_split_gets_the_evaluation_metrics(tmp_path):
    metrics = train(
        _cfg(
            tmp_path,
            "trainer.max_steps=2",
            "trainer.val_check_interval=2",
            "logger=none",
            "validate_before_training=false",
        )
    )
    for key in ("test/mss", "test/mcd_db", "test/loudness_db", "test/voicing_error"):
        assert np.isfinite(metrics[key]), key
