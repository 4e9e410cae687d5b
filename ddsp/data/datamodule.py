"""LightningDataModule over a folder of speech: prepares (cached) and serves segments."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from .dataset import SegmentDataset
from .prepare import PrepConfig, prepare

__all__ = ["SpeechDataModule"]


class SpeechDataModule(L.LightningDataModule):
    """Train/valid/test loaders of frame-aligned segments from ``root``.

    Args:
        root: folder of audio files (recursively); ``splits.csv`` inside fixes the split.
        sample_rate, hop_length, f0_min, f0_max, f0_method: analysis settings
            (:class:`ddsp.data.prepare.PrepConfig`).
        segment_seconds: training/evaluation segment length.
        batch_size, num_workers: loader settings.
        cache_dir: feature cache (default :func:`ddsp.data.prepare.default_cache_dir`).
        skip_bad_files: skip unusable audio files with a warning instead of stopping.
    """

    def __init__(
        self,
        root: str,
        sample_rate: int = 16000,
        hop_length: int = 160,
        segment_seconds: float = 1.0,
        batch_size: int = 16,
        num_workers: int = 0,
        f0_min: float = 60.0,
        f0_max: float = 800.0,
        f0_method: str = "dio",
        valid_fraction: float = 0.1,
        test_fraction: float = 0.1,
        cache_dir: str | None = None,
        skip_bad_files: bool = False,
    ) -> None:
        super().__init__()
        self.root = Path(root)
        self.cfg = PrepConfig(
            sample_rate,
            hop_length,
            f0_min,
            f0_max,
            f0_method,
            valid_fraction=valid_fraction,
            test_fraction=test_fraction,
        )
        if not segment_seconds > 0:  # NaN fails too
            raise ValueError(f"segment_seconds must be > 0, got {segment_seconds}")
        self.segment_frames = max(1, round(segment_seconds * sample_rate / hop_length))
        self.batch_size, self.num_workers = batch_size, num_workers
        self.cache_dir, self.skip_bad_files = cache_dir, skip_bad_files
        self.datasets: dict[str, SegmentDataset] = {}

    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def prepare_data(self) -> None:
        prepare(self.root, self.cfg, self.cache_dir, self.skip_bad_files)

    def setup(self, stage: str | None = None) -> None:
        paths = prepare(self.root, self.cfg, self.cache_dir, self.skip_bad_files, progress=False)
        for split, path in paths.items():
            if split not in self.datasets:
                items = torch.load(path, weights_only=False)["items"]
                self.datasets[split] = SegmentDataset(
                    items, self.segment_frames, self.hop_length, random_crop=split == "train"
                )

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=shuffle and len(self.datasets[split]) >= self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)
