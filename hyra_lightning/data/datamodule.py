"""The super-resolution data module: random training patches and fixed validation crops.

Three sources of images, chosen per split:

- ``None``: the photographs bundled with the package (:mod:`hyra_lightning.data.photos`). Two photographs
  (``astronaut`` and ``chelsea`` by default) are held out entirely for validation; training patches come
  from the other six, so validation never sees a pixel that training saw.
- a folder of HR images (png, jpg, jpeg, bmp, tif, tiff; read by :func:`hyra_lightning.io.read_image` at
  their full bit depth, so 16-bit and float files keep their precision): LR images are made on the fly by
  bicubic downsampling with antialiasing (:func:`bicubic_downsample`).
- DIV2K's layout: a folder whose name ends in ``_HR`` (``DIV2K_train_HR``) with a sibling
  ``<prefix>_LR_bicubic/X<scale>`` (``DIV2K_train_LR_bicubic/X2``) holding ``0001x2.png`` for ``0001.png``.
  It is detected automatically and the stored LR images are used instead of downsampling on the fly.

Training samples are random LR patches of ``patch_size`` pixels (HR patches of ``scale * patch_size``)
with random flips and 90-degree rotations. Patch ``i`` of epoch ``e`` is drawn from a generator seeded
with ``(seed, e * train_samples_per_epoch + i)``, so an epoch is reproducible whatever the number of
workers or processes, and successive epochs see different patches. The training loader is resumable: a fit
resumed from a checkpoint written at any step, mid-epoch included, sees the batches of an uninterrupted fit. Validation samples are fixed crops of
``val_crop_size`` HR pixels taken from a centred grid (the most central first), identical across runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler

from hyra_lightning.checks import check_int
from hyra_lightning.data.photos import PHOTO_NAMES, load_photo
from hyra_lightning.io import IMAGE_SUFFIXES, image_size, list_images, read_image

__all__ = [
    "IMAGE_EXTENSIONS",
    "EpochSampler",
    "ResumableDataLoader",
    "SRCropDataset",
    "SRDataModule",
    "SRPatchDataset",
    "UnpaddedDistributedSampler",
    "bicubic_downsample",
]

#: File extensions read as images (case-insensitive); the same as :data:`hyra_lightning.io.IMAGE_SUFFIXES`.
IMAGE_EXTENSIONS: tuple[str, ...] = IMAGE_SUFFIXES

#: Bundled photographs held out for validation by default.
DEFAULT_VAL_PHOTOS: tuple[str, ...] = ("astronaut", "chelsea")


def bicubic_downsample(hr: Tensor, scale: int) -> Tensor:
    """Downsample by an integer ``scale`` with antialiased bicubic interpolation, clamped to [0, 1].

    This is how LR images are made when only HR images are available (torch ``interpolate`` with
    ``mode="bicubic", antialias=True, align_corners=False``, close to MATLAB's ``imresize``).

    Args:
        hr: ``(C, H, W)`` or ``(N, C, H, W)`` float image(s) with ``H`` and ``W`` divisible by ``scale``.
        scale: positive integer factor.

    Returns:
        ``(..., C, H / scale, W / scale)`` tensor of the dtype of ``hr``.

    Example:
        >>> import torch
        >>> bicubic_downsample(torch.full((3, 8, 6), 0.5), 2).shape
        torch.Size([3, 4, 3])
    """
    check_int("scale", scale, minimum=1)
    if hr.ndim not in (3, 4):
        raise ValueError(f"Expected `hr` of shape (C, H, W) or (N, C, H, W), got {tuple(hr.shape)}.")
    height, width = hr.shape[-2:]
    if height % scale or width % scale:
        raise ValueError(
            f"Expected `hr` height and width divisible by scale {scale}, got {height} x {width}."
        )
    if scale == 1:
        return hr.clamp(0.0, 1.0)
    batch = hr if hr.ndim == 4 else hr[None]
    lr = F.interpolate(
        batch, size=(height // scale, width // scale), mode="bicubic", antialias=True, align_corners=False
    ).clamp_(0.0, 1.0)
    return lr if hr.ndim == 4 else lr[0]


def _to_float(x: Tensor) -> Tensor:
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


class _ImageSource:
    """Indexable HR images, each with an optional stored LR image (``lr.size * scale == hr.size``)."""

    def __init__(
        self,
        names: list[str],
        hr_sizes: list[tuple[int, int]],
        *,
        tensors: list[Tensor] | None = None,
        hr_paths: list[str] | None = None,
        lr_paths: list[str] | None = None,
        scale: int = 1,
    ) -> None:
        self.names = names
        self.hr_sizes = hr_sizes
        self.tensors = tensors
        self.hr_paths = hr_paths
        self.lr_paths = lr_paths
        self.scale = scale

    @property
    def paired(self) -> bool:
        return self.lr_paths is not None

    def __len__(self) -> int:
        return len(self.names)

    def load(self, index: int) -> tuple[Tensor, Tensor | None]:
        """HR (cropped to a multiple of the scale when paired) and LR, float in [0, 1], ``3 x H x W``."""
        if self.tensors is not None:
            return self.tensors[index], None
        assert self.hr_paths is not None
        hr = read_image(self.hr_paths[index])
        if self.lr_paths is None:
            return hr, None
        lr = read_image(self.lr_paths[index])
        h, w = lr.shape[-2:]
        return hr[:, : h * self.scale, : w * self.scale], lr


def _bundled_source(names: Sequence[str]) -> _ImageSource:
    tensors = [load_photo(name) for name in names]
    return _ImageSource(
        [f"bundled photograph {name!r}" for name in names],
        [tuple(t.shape[-2:]) for t in tensors],  # type: ignore[misc]
        tensors=tensors,
    )


def _folder_source(directory: str, scale: int, argument: str) -> _ImageSource:
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"`{argument}`: folder {directory!r} does not exist.")
    files = list_images(root)
    if not files:
        raise ValueError(
            f"`{argument}`: folder {directory!r} contains no images. Expected files ending in "
            f"{', '.join(IMAGE_EXTENSIONS)}."
        )
    hr_paths = [str(p) for p in files]
    hr_sizes = [image_size(p) for p in hr_paths]
    lr_dir = _div2k_lr_dir(root, scale)
    if lr_dir is None:
        return _ImageSource(hr_paths, hr_sizes, hr_paths=hr_paths)
    lr_paths = []
    for hr_path, (height, width) in zip(files, hr_sizes, strict=True):
        candidates = [lr_dir / f"{hr_path.stem}x{scale}{ext}" for ext in (hr_path.suffix, *IMAGE_EXTENSIONS)]
        lr_path = next((c for c in candidates if c.is_file()), None)
        if lr_path is None:
            raise FileNotFoundError(
                f"`{argument}`: DIV2K layout detected ({str(lr_dir)!r}) but the LR image for {str(hr_path)!r} "
                f"is missing. Expected {str(candidates[0])!r}."
            )
        lr_h, lr_w = image_size(str(lr_path))
        if (height // scale, width // scale) != (lr_h, lr_w):
            raise ValueError(
                f"`{argument}`: LR image {str(lr_path)!r} ({lr_h} x {lr_w}) does not match HR image "
                f"{str(hr_path)!r} ({height} x {width}) at scale {scale}. Expected an LR size of "
                f"{height // scale} x {width // scale}."
            )
        lr_paths.append(str(lr_path))
    sizes = [(h - h % scale, w - w % scale) for h, w in hr_sizes]
    return _ImageSource(hr_paths, sizes, hr_paths=hr_paths, lr_paths=lr_paths, scale=scale)


def _div2k_lr_dir(hr_dir: Path, scale: int) -> Path | None:
    """``<prefix>_LR_bicubic/X<scale>`` next to a ``<prefix>_HR`` folder, if it exists."""
    name = hr_dir.resolve().name
    if not name.endswith("_HR"):
        return None
    lr_dir = hr_dir.resolve().parent / f"{name[:-3]}_LR_bicubic" / f"X{scale}"
    return lr_dir if lr_dir.is_dir() else None


def _augment(lr: Tensor, hr: Tensor, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    """Apply one of the 8 flips/rotations of the square, the same to both images."""
    hflip, vflip, transpose = rng.random(3) < 0.5
    dims = [d for d, flag in ((-1, hflip), (-2, vflip)) if flag]
    if dims:
        lr, hr = lr.flip(dims), hr.flip(dims)
    if transpose:
        lr, hr = lr.transpose(-1, -2), hr.transpose(-1, -2)
    return lr, hr


class EpochSampler(Sampler[int]):
    """Yield the global sample indices ``epoch * length + i`` for ``i < length``.

    Lightning calls :meth:`set_epoch` at the start of every training epoch (also through its distributed
    sampler wrapper), so :class:`SRPatchDataset` draws new, reproducible patches each epoch. :meth:`skip`
    makes the next iteration start ``count`` indices into the epoch (used to resume in the middle of one).
    """

    def __init__(self, length: int) -> None:
        check_int("length", length, minimum=1)
        self.length = length
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the indices of ``epoch``."""
        self.epoch = epoch

    def skip(self, count: int) -> None:
        """Leave out the first ``count`` indices of the next iteration only (``0 <= count <= length``)."""
        check_int("count", count, minimum=0)
        if count > self.length:
            raise ValueError(f"Expected `count` to be at most the epoch length {self.length}, got {count}.")
        self._skip = count

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        start = self.epoch * self.length
        skip, self._skip = self._skip, 0
        return iter(range(start + skip, start + self.length))


class UnpaddedDistributedSampler(DistributedSampler):
    """Split an evaluation set across processes without repeating any sample: each is scored exactly once.

    torch's ``DistributedSampler`` (which Lightning puts into every data loader under DDP) pads the dataset
    with repeated samples until it divides by the number of processes, so synchronised validation metrics
    count some samples twice. This sampler gives each process a contiguous block of the dataset instead,
    in order, the first ``len(dataset) % num_replicas`` processes one sample more than the others (rank zero
    holds the first samples). Together with metrics that synchronise sums and counts, the scores of all
    processes are those of one process. As a ``DistributedSampler``, Lightning keeps it in place. Processes
    then see different numbers of batches, which is safe for evaluation (no gradient synchronisation); every
    process needs at least one sample, so fewer samples than processes is an error.

    Args:
        dataset: the evaluation dataset.
        num_replicas: number of processes; ``None`` reads the initialised process group.
        rank: this process's rank; ``None`` reads the initialised process group.

    Raises:
        ValueError: when the dataset has fewer samples than there are processes.

    Example:
        >>> [list(UnpaddedDistributedSampler(range(5), num_replicas=2, rank=r)) for r in (0, 1)]
        [[0, 1, 2], [3, 4]]
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        size = len(dataset)
        if size < self.num_replicas:
            raise ValueError(
                f"Expected at least one evaluation sample per process, got {size} samples for "
                f"{self.num_replicas} processes. Add samples (for `SRDataModule`: `val_crops_per_image` or more "
                "validation images) or run on fewer devices."
            )
        quotient, remainder = divmod(size, self.num_replicas)
        self.start = self.rank * quotient + min(self.rank, remainder)
        self.num_samples = quotient + (self.rank < remainder)
        self.total_size = size  # nothing added: no sample is scored twice

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.start + self.num_samples))

    def __len__(self) -> int:
        return self.num_samples


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` that Lightning can resume in the middle of an epoch.

    It counts the batches it has handed out in the current epoch; Lightning saves that count in every
    checkpoint (:meth:`state_dict`) and gives it back on resume (:meth:`load_state_dict`), and the next
    iteration starts after those batches. With an :class:`EpochSampler` the skipped batches are not loaded at
    all (the sampler starts later in the epoch); with another sampler (Lightning's distributed wrapper, say)
    they are loaded and dropped. Together with the per-sample seeds of :class:`SRPatchDataset`, a fit resumed
    from a checkpoint written at any step, mid-epoch included, sees exactly the batches of an uninterrupted
    fit.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._served = 0  # batches handed out in the current epoch
        self._resume_at = 0  # batches to skip at the next iteration (set by load_state_dict)

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        skip, self._resume_at = self._resume_at, 0
        if skip >= len(self):
            skip = 0  # the checkpoint ended the epoch: the next iteration is a whole new epoch
        cheap = skip > 0 and isinstance(self.sampler, EpochSampler) and self.batch_size is not None
        if cheap:
            self.sampler.skip(skip * self.batch_size)  # type: ignore[union-attr,operator]
        iterator = super().__iter__()
        return self._count(iterator, skip, drop=0 if cheap else skip)

    def _count(self, iterator: Iterator[Any], start: int, drop: int) -> Iterator[Any]:
        self._served = start
        for _ in range(drop):
            next(iterator, None)
        for batch in iterator:
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """``{"batches": ...}``: batches of the current epoch already handed out."""
        return {"batches": int(self._served)}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Start the next iteration after ``state_dict["batches"]`` batches of the epoch."""
        batches = state_dict.get("batches", 0)
        if isinstance(batches, bool) or not isinstance(batches, int) or batches < 0:
            raise ValueError(
                f"Expected the data loader state to hold a non-negative integer 'batches', got {state_dict!r}."
            )
        self._resume_at = batches


class SRPatchDataset(Dataset):
    """Random training patches: ``{"lr": 3 x p x p, "hr": 3 x sp x sp}`` float tensors in [0, 1].

    Sample ``k`` (any non-negative integer; :class:`EpochSampler` passes ``epoch * length + i``) is drawn
    by ``numpy.random.default_rng([seed, k])``: an image chosen uniformly, a patch position chosen uniformly,
    and, with ``augment``, one of the 8 flips/rotations. The global RNGs are not used.
    """

    def __init__(
        self, source: _ImageSource, scale: int, patch_size: int, length: int, augment: bool, seed: int
    ) -> None:
        self.source = source
        self.scale = scale
        self.patch_size = patch_size
        self.length = length
        self.augment = augment
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        rng = np.random.default_rng([self.seed, int(index)])
        image = int(rng.integers(len(self.source)))
        hr_img, lr_img = self.source.load(image)
        s, p = self.scale, self.patch_size
        if lr_img is not None:
            y = int(rng.integers(lr_img.shape[-2] - p + 1))
            x = int(rng.integers(lr_img.shape[-1] - p + 1))
            lr = _to_float(lr_img[:, y : y + p, x : x + p])
            hr = _to_float(hr_img[:, s * y : s * (y + p), s * x : s * (x + p)])
        else:
            y = int(rng.integers(hr_img.shape[-2] - s * p + 1))
            x = int(rng.integers(hr_img.shape[-1] - s * p + 1))
            hr = _to_float(hr_img[:, y : y + s * p, x : x + s * p])
            lr = bicubic_downsample(hr, s)
        if self.augment:
            lr, hr = _augment(lr, hr, rng)
        return {"lr": lr.contiguous(), "hr": hr.contiguous()}


class SRCropDataset(Dataset):
    """Fixed validation crops: ``{"lr": 3 x h x w, "hr": 3 x sh x sw}`` float tensors in [0, 1].

    Each image contributes up to ``crops_per_image`` crops of ``crop_size`` HR pixels (rounded down to a
    multiple of ``scale``) from a grid of non-overlapping crops centred in the image, the most central
    first; ``crop_size=None`` takes the whole image cropped to a multiple of ``scale``. In-memory sources
    (the bundled photographs) cache their crops; folders are read per item.
    """

    def __init__(
        self, source: _ImageSource, scale: int, crop_size: int | None, crops_per_image: int, argument: str
    ) -> None:
        self.source = source
        self.scale = scale
        self.crops: list[tuple[int, int, int, int, int]] = []  # image, y, x, height, width (HR pixels)
        for index, (height, width) in enumerate(source.hr_sizes):
            self.crops += _grid_crops(
                index, height, width, scale, crop_size, crops_per_image, source, argument
            )
        self._cache: list[dict[str, Tensor]] | None = None
        if source.tensors is not None:
            self._cache = [self._make(i) for i in range(len(self.crops))]

    def __len__(self) -> int:
        return len(self.crops)

    def _make(self, index: int) -> dict[str, Tensor]:
        image, y, x, height, width = self.crops[index]
        s = self.scale
        hr_img, lr_img = self.source.load(image)
        hr = _to_float(hr_img[:, y : y + height, x : x + width])
        if lr_img is None:
            lr = bicubic_downsample(hr, s)
        else:
            lr = _to_float(lr_img[:, y // s : (y + height) // s, x // s : (x + width) // s])
        return {"lr": lr.contiguous(), "hr": hr.contiguous()}

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if self._cache is not None:
            return {k: v.clone() for k, v in self._cache[index].items()}
        return self._make(index)


def _grid_crops(
    index: int,
    height: int,
    width: int,
    scale: int,
    crop_size: int | None,
    crops_per_image: int,
    source: _ImageSource,
    argument: str,
) -> list[tuple[int, int, int, int, int]]:
    if crop_size is None:
        return [(index, 0, 0, height - height % scale, width - width % scale)]
    size = crop_size - crop_size % scale
    rows, cols = height // size, width // size
    if rows == 0 or cols == 0:
        raise ValueError(
            f"`{argument}`: image {source.names[index]!r} ({height} x {width}) is smaller than a validation "
            f"crop of {size} x {size} HR pixels. Lower `val_crop_size` or use larger images."
        )
    # top-left corner of the grid, aligned to the scale so that stored LR images crop exactly
    y0 = (height - rows * size) // 2 // scale * scale
    x0 = (width - cols * size) // 2 // scale * scale
    centre_y, centre_x = (rows - 1) / 2, (cols - 1) / 2
    cells = sorted(
        ((r, c) for r in range(rows) for c in range(cols)),
        key=lambda rc: (math.hypot(rc[0] - centre_y, rc[1] - centre_x), rc),
    )
    return [(index, y0 + r * size, x0 + c * size, size, size) for r, c in cells[:crops_per_image]]


class SRDataModule(LightningDataModule):
    """Super-resolution data: random LR/HR training patches and fixed validation crops.

    Batches are dicts ``{"lr": N x 3 x h x w, "hr": N x 3 x sh x sw}`` of float tensors in [0, 1]. The test
    and predict loaders serve the validation crops.

    Args:
        train_dir: folder of HR training images, a DIV2K ``..._HR`` folder (see the module docstring), or
            ``None`` for the bundled photographs other than ``val_photos``.
        val_dir: folder of HR validation images, a DIV2K ``..._HR`` folder, or ``None`` for the bundled
            photographs ``val_photos``.
        scale: integer upsampling factor.
        patch_size: LR training patch size (HR patches are ``scale * patch_size``; EDSR uses 48).
        batch_size: training batch size.
        num_workers: data loader worker processes.
        val_crop_size: HR size of the validation crops (rounded down to a multiple of ``scale``), or
            ``None`` for whole images (then validated one at a time).
        val_crops_per_image: at most this many crops per validation image, the most central first.
        train_samples_per_epoch: random patches per training epoch.
        augment: random horizontal/vertical flips and transposition (the 8 symmetries of the square).
        seed: seed of the patch sampler; the same seed gives the same patches.
        val_batch_size: validation batch size; ``None`` uses ``batch_size`` (1 for whole images).
        val_photos: bundled photographs held out for validation (used when ``val_dir`` is ``None``); the
            others are used for training when ``train_dir`` is ``None``.
        pin_memory: passed to the data loaders.

    Under DDP (a process group of several processes is up when the loaders are made) the validation, test
    and predict loaders split the crops with :class:`UnpaddedDistributedSampler`: every crop is scored exactly
    once, and the synchronised scores equal those of one process. Training batches keep Lightning's
    distributed sampler.

    Example:
        >>> dm = SRDataModule(scale=2, patch_size=16, batch_size=4, train_samples_per_epoch=8)
        >>> dm.setup("fit")
        >>> batch = next(iter(dm.train_dataloader()))
        >>> tuple(batch["lr"].shape), tuple(batch["hr"].shape)
        ((4, 3, 16, 16), (4, 3, 32, 32))
    """

    def __init__(
        self,
        train_dir: str | None = None,
        val_dir: str | None = None,
        scale: int = 2,
        patch_size: int = 48,
        batch_size: int = 16,
        num_workers: int = 0,
        val_crop_size: int | None = 128,
        val_crops_per_image: int = 8,
        train_samples_per_epoch: int = 800,
        augment: bool = True,
        seed: int = 0,
        val_batch_size: int | None = None,
        val_photos: tuple[str, ...] = DEFAULT_VAL_PHOTOS,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        check_int("scale", scale, minimum=1)
        check_int("patch_size", patch_size, minimum=1)
        check_int("batch_size", batch_size, minimum=1)
        check_int("num_workers", num_workers, minimum=0)
        check_int("val_crops_per_image", val_crops_per_image, minimum=1)
        check_int("train_samples_per_epoch", train_samples_per_epoch, minimum=batch_size)
        check_int("seed", seed, minimum=0)
        if val_crop_size is not None:
            check_int("val_crop_size", val_crop_size, minimum=scale)
        if val_batch_size is not None:
            check_int("val_batch_size", val_batch_size, minimum=1)
        val_photos = tuple(val_photos)
        unknown = [name for name in val_photos if name not in PHOTO_NAMES]
        if unknown or not val_photos or len(set(val_photos)) >= len(PHOTO_NAMES):
            raise ValueError(
                f"Expected `val_photos` to be a non-empty proper subset of {list(PHOTO_NAMES)}, got {val_photos!r}."
            )
        self.save_hyperparameters()
        self.train_dir = train_dir
        self.val_dir = val_dir
        self.scale = scale
        self.patch_size = patch_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_crop_size = val_crop_size
        self.val_crops_per_image = val_crops_per_image
        self.train_samples_per_epoch = train_samples_per_epoch
        self.augment = augment
        self.seed = seed
        self.val_batch_size = val_batch_size
        self.val_photos = val_photos
        self.pin_memory = pin_memory
        self.train_dataset: SRPatchDataset | None = None
        self.val_dataset: SRCropDataset | None = None

    def _train_source(self) -> _ImageSource:
        if self.train_dir is None:
            return _bundled_source([n for n in PHOTO_NAMES if n not in self.val_photos])
        return _folder_source(self.train_dir, self.scale, "train_dir")

    def _val_source(self) -> _ImageSource:
        if self.val_dir is None:
            return _bundled_source(list(self.val_photos))
        return _folder_source(self.val_dir, self.scale, "val_dir")

    def setup(self, stage: str | None = None) -> None:
        """Index the images and check them (sizes, pairs, readable headers); training data only for fit."""
        if stage in (None, "fit") and self.train_dataset is None:
            source = self._train_source()
            hr_patch = self.scale * self.patch_size
            for name, (height, width) in zip(source.names, source.hr_sizes, strict=True):
                if height < hr_patch or width < hr_patch:
                    raise ValueError(
                        f"`train_dir`: image {name!r} ({height} x {width}) is smaller than an HR patch of "
                        f"{hr_patch} x {hr_patch} (`patch_size` {self.patch_size} x `scale` {self.scale}). "
                        "Lower `patch_size` or remove the image."
                    )
            self.train_dataset = SRPatchDataset(
                source, self.scale, self.patch_size, self.train_samples_per_epoch, self.augment, self.seed
            )
        if self.val_dataset is None:
            self.val_dataset = SRCropDataset(
                self._val_source(), self.scale, self.val_crop_size, self.val_crops_per_image, "val_dir"
            )

    def train_dataloader(self) -> DataLoader:
        """Random patches, ``train_samples_per_epoch // batch_size`` batches per epoch, resumable mid-epoch."""
        if self.train_dataset is None:
            self.setup("fit")
        assert self.train_dataset is not None
        return ResumableDataLoader(
            self.train_dataset,
            batch_size=self.batch_size,
            sampler=EpochSampler(len(self.train_dataset)),
            num_workers=self.num_workers,
            drop_last=True,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def _eval_dataloader(self, distributed: bool = True) -> DataLoader:
        if self.val_dataset is None:
            self.setup("validate")
        assert self.val_dataset is not None
        batch_size = self.val_batch_size
        if batch_size is None:
            batch_size = self.batch_size if self.val_crop_size is not None else 1
        sampler = None
        if distributed and torch.distributed.is_available() and torch.distributed.is_initialized():
            if torch.distributed.get_world_size() > 1:
                sampler = UnpaddedDistributedSampler(self.val_dataset)
        return DataLoader(
            self.val_dataset,
            batch_size=batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )

    def val_dataloader(self, distributed: bool = True) -> DataLoader:
        """The fixed validation crops, in a fixed order.

        Args:
            distributed: under DDP, give this process its share of the crops (what Lightning's validation
                needs); ``False`` gives every crop to every process (to score the whole set on one rank).
        """
        return self._eval_dataloader(distributed)

    def test_dataloader(self) -> DataLoader:
        """The validation crops."""
        return self._eval_dataloader()

    def predict_dataloader(self) -> DataLoader:
        """The validation crops (``predict_step`` reads their ``lr``)."""
        return self._eval_dataloader()
