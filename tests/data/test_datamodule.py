from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from hyra_lightning.data import SRDataModule, bicubic_downsample, load_photo
from hyra_lightning.data.datamodule import EpochSampler
from tests.imagefiles import write_tiff16


def _save_png(image: torch.Tensor, path: Path) -> None:
    arr = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(path)


def _read(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 255


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real photographs, cropped to sizes that are not multiples of the scale."""
    root = tmp_path_factory.mktemp("hr")
    _save_png(load_photo("coffee")[:, :151, :203], root / "coffee.png")
    _save_png(load_photo("brick")[:, 7:170, :170], root / "brick.PNG")
    Image.fromarray(
        (load_photo("camera")[0, :140, :180] * 255).round().to(torch.uint8).numpy(), mode="L"
    ).save(root / "camera.jpg", quality=95)
    (root / "notes.txt").write_text("not an image, ignored")
    return root


@pytest.fixture(scope="module")
def div2k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIV2K layout: <root>/DIV2K_train_HR/0001.png and <root>/DIV2K_train_LR_bicubic/X2/0001x2.png."""
    root = tmp_path_factory.mktemp("div2k")
    hr_dir, lr_dir = root / "DIV2K_train_HR", root / "DIV2K_train_LR_bicubic" / "X2"
    hr_dir.mkdir()
    lr_dir.mkdir(parents=True)
    for i, name in enumerate(["chelsea", "coins"], start=1):
        hr = load_photo(name)[:, :121, :160]  # odd height: the LR has floor(121 / 2) = 60 rows
        _save_png(hr, hr_dir / f"{i:04d}.png")
        # a stored LR that differs from on-the-fly bicubic (nearest), so the test can tell which one is used
        _save_png(hr[:, :120:2, ::2], lr_dir / f"{i:04d}x2.png")
    return root


def test_bundled_defaults_shapes_and_range() -> None:
    dm = SRDataModule(scale=2, patch_size=24, batch_size=4, train_samples_per_epoch=8)
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert len(batches) == 2
    for batch in batches:
        assert batch["lr"].shape == (4, 3, 24, 24) and batch["hr"].shape == (4, 3, 48, 48)
        assert batch["lr"].dtype == torch.float32
        assert 0 <= batch["lr"].min() and batch["hr"].max() <= 1
    val = list(dm.val_dataloader())
    assert sum(len(b["hr"]) for b in val) == len(dm.val_dataset) == 8 + 6  # astronaut (8 of 16) + chelsea (6)
    assert val[0]["hr"].shape[1:] == (3, 128, 128) and val[0]["lr"].shape[1:] == (3, 64, 64)
    assert len(dm.test_dataloader().dataset) == len(dm.predict_dataloader().dataset) == 14


def test_validation_is_held_out_and_real() -> None:
    dm = SRDataModule(scale=2)
    dm.setup("fit")
    assert not any("astronaut" in n or "chelsea" in n for n in dm.train_dataset.source.names)
    assert len(dm.train_dataset.source) == 6
    # the first crop is the centre of the astronaut photograph, made by antialiased bicubic downsampling
    astronaut = load_photo("astronaut")
    crop = dm.val_dataset[0]
    torch.testing.assert_close(crop["hr"], astronaut[:, 128:256, 128:256])
    expected_lr = F.interpolate(
        astronaut[None, :, 128:256, 128:256],
        scale_factor=0.5,
        mode="bicubic",
        antialias=True,
        align_corners=False,
    ).clamp(0, 1)[0]
    torch.testing.assert_close(crop["lr"], expected_lr)
    assert crop["hr"].std() > 0.05  # real content


def test_validation_crops_identical_across_instances() -> None:
    a = SRDataModule(scale=3, val_crop_size=96, seed=1)
    b = SRDataModule(scale=3, val_crop_size=96, seed=2, augment=False)
    a.setup("validate")
    b.setup("validate")
    batch_a, batch_b = next(iter(a.val_dataloader())), next(iter(b.val_dataloader()))
    assert batch_a["hr"].shape[-1] == 96 and batch_a["lr"].shape[-1] == 32
    assert torch.equal(batch_a["lr"], batch_b["lr"]) and torch.equal(batch_a["hr"], batch_b["hr"])


def test_training_patches_reproducible_and_vary_per_epoch() -> None:
    def epoch(seed: int, e: int, workers: int = 0) -> dict[str, torch.Tensor]:
        dm = SRDataModule(scale=2, patch_size=16, batch_size=2, train_samples_per_epoch=8, seed=seed)
        dm.setup("fit")
        loader = dm.train_dataloader()
        if workers:  # the same sampler and dataset, read by worker processes (not persistent: quick teardown)
            loader = DataLoader(dm.train_dataset, batch_size=2, sampler=loader.sampler, num_workers=workers)
        loader.sampler.set_epoch(e)
        batches = list(loader)
        assert len(batches) == 4
        return {key: torch.cat([b[key] for b in batches]) for key in ("lr", "hr")}

    first = epoch(0, 0)
    again = epoch(0, 0)
    assert torch.equal(first["lr"], again["lr"]) and torch.equal(first["hr"], again["hr"])
    assert not torch.equal(first["hr"], epoch(0, 1)["hr"])
    assert not torch.equal(first["hr"], epoch(1, 0)["hr"])
    with_workers = epoch(0, 0, workers=2)  # patches depend on the sample index only, not on the worker
    assert torch.equal(first["hr"], with_workers["hr"])
    # LR is the antialiased bicubic downsampling of HR (augmentation commutes with it)
    torch.testing.assert_close(first["lr"], bicubic_downsample(first["hr"], 2), atol=1e-5, rtol=0)


def test_patch_sampling_does_not_touch_the_global_rngs() -> None:
    # (the DataLoader itself draws a worker base seed from torch's RNG; the dataset draws nothing)
    dm = SRDataModule(scale=2, patch_size=16, batch_size=4, train_samples_per_epoch=4)
    dm.setup("fit")
    state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    for k in range(4):
        dm.train_dataset[k]
    assert torch.equal(state, torch.get_rng_state())
    assert np.array_equal(np_state, np.random.get_state()[1])  # noqa: NPY002


def _symmetries(x: torch.Tensor) -> list[torch.Tensor]:
    out = []
    for y in (x, x.transpose(-1, -2)):
        out += [y, y.flip(-1), y.flip(-2), y.flip([-1, -2])]
    return out


def test_augmentation_uses_all_eight_symmetries() -> None:
    kwargs = {"scale": 2, "patch_size": 8, "batch_size": 1, "train_samples_per_epoch": 1}
    plain, aug = SRDataModule(augment=False, **kwargs), SRDataModule(augment=True, **kwargs)
    plain.setup("fit")
    aug.setup("fit")
    seen = set()
    for k in range(64):
        reference, augmented = plain.train_dataset[k], aug.train_dataset[k]
        hr_match = [i for i, v in enumerate(_symmetries(reference["hr"])) if torch.equal(v, augmented["hr"])]
        lr_match = [i for i, v in enumerate(_symmetries(reference["lr"])) if torch.equal(v, augmented["lr"])]
        assert hr_match and hr_match == lr_match, "LR and HR must get the same flip/rotation"
        seen.add(hr_match[0])
    assert seen == set(range(8))


def test_hr_folder(hr_folder: Path) -> None:
    dm = SRDataModule(
        train_dir=str(hr_folder),
        val_dir=str(hr_folder),
        scale=3,
        patch_size=16,
        batch_size=2,
        train_samples_per_epoch=4,
        val_crop_size=None,
    )
    dm.setup("fit")
    assert [Path(p).name for p in dm.train_dataset.source.names] == ["brick.PNG", "camera.jpg", "coffee.png"]
    batch = next(iter(dm.train_dataloader()))
    assert batch["lr"].shape == (2, 3, 16, 16) and batch["hr"].shape == (2, 3, 48, 48)
    # whole images, HR cropped to a multiple of the scale, one per batch
    sizes = [tuple(b["hr"].shape) for b in dm.val_dataloader()]
    assert sizes == [(1, 3, 162, 168), (1, 3, 138, 180), (1, 3, 150, 201)]
    item = dm.val_dataset[2]
    torch.testing.assert_close(item["hr"], _read(hr_folder / "coffee.png")[:, :150, :201])
    torch.testing.assert_close(item["lr"], bicubic_downsample(item["hr"], 3))
    # a greyscale file is read as RGB
    grey = dm.val_dataset[1]["hr"]
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])


def test_hr_folder_centre_crops(hr_folder: Path) -> None:
    dm = SRDataModule(val_dir=str(hr_folder), scale=2, val_crop_size=64, val_crops_per_image=2)
    dm.setup("validate")
    assert len(dm.val_dataset) == 6
    image, y, x, h, w = dm.val_dataset.crops[
        4
    ]  # coffee 151 x 203: a 2 x 3 grid at (10, 4) (centred, aligned to the scale)
    assert (image, h, w) == (2, 64, 64) and (y, x) == (10, 68)


def test_div2k_layout_uses_stored_lr(div2k: Path) -> None:
    hr_dir = div2k / "DIV2K_train_HR"
    dm = SRDataModule(
        train_dir=str(hr_dir),
        val_dir=str(hr_dir),
        scale=2,
        patch_size=20,
        batch_size=2,
        train_samples_per_epoch=2,
        val_crop_size=48,
        val_crops_per_image=1,
    )
    dm.setup("fit")
    assert dm.train_dataset.source.paired
    lr_files = dm.train_dataset.source.lr_paths
    assert [Path(p).name for p in lr_files] == ["0001x2.png", "0002x2.png"]
    # training patches are aligned crops of the stored pair
    for k in range(4):
        rng = np.random.default_rng([0, k])
        image = int(rng.integers(2))
        y, x = int(rng.integers(60 - 20 + 1)), int(rng.integers(80 - 20 + 1))
        sample = SRDataModule(
            train_dir=str(hr_dir),
            scale=2,
            patch_size=20,
            batch_size=1,
            train_samples_per_epoch=1,
            augment=False,
        )
        sample.setup("fit")
        item = sample.train_dataset[k]
        torch.testing.assert_close(item["lr"], _read(Path(lr_files[image]))[:, y : y + 20, x : x + 20])
        hr = _read(hr_dir / f"{image + 1:04d}.png")
        torch.testing.assert_close(item["hr"], hr[:, 2 * y : 2 * y + 40, 2 * x : 2 * x + 40])
    val = dm.val_dataset[0]
    image, y, x, h, w = dm.val_dataset.crops[0]
    assert (h, w) == (48, 48) and y % 2 == 0 and x % 2 == 0
    torch.testing.assert_close(
        val["lr"], _read(Path(lr_files[0]))[:, y // 2 : y // 2 + 24, x // 2 : x // 2 + 24]
    )


def test_div2k_layout_only_for_matching_scale(div2k: Path) -> None:
    # no X3 folder: plain HR folder with on-the-fly downsampling
    dm = SRDataModule(val_dir=str(div2k / "DIV2K_train_HR"), scale=3, val_crop_size=48)
    dm.setup("validate")
    assert not dm.val_dataset.source.paired


def test_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        SRDataModule(train_dir=str(missing)).setup("fit")
    with pytest.raises(FileNotFoundError, match="`val_dir`"):
        SRDataModule(val_dir=str(missing)).setup("validate")


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"`train_dir`.*contains no images"):
        SRDataModule(train_dir=str(tmp_path)).setup("fit")


def test_unreadable_image(tmp_path: Path, hr_folder: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"definitely not a png")
    with pytest.raises(ValueError, match=r"broken\.png"):
        SRDataModule(train_dir=str(tmp_path)).setup("fit")


def test_truncated_image_fails_when_read(tmp_path: Path) -> None:
    good = tmp_path / "src.png"
    _save_png(load_photo("coins")[:, :100, :100], good)
    data = good.read_bytes()
    good.unlink()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    dm = SRDataModule(
        train_dir=str(tmp_path), scale=2, patch_size=16, batch_size=1, train_samples_per_epoch=1
    )
    dm.setup("fit")  # the header is intact
    with pytest.raises(ValueError, match=r"cut\.png"):
        dm.train_dataset[0]


def test_image_smaller_than_patch(hr_folder: Path) -> None:
    with pytest.raises(ValueError, match=r"camera\.jpg.*smaller than an HR patch of 144 x 144"):
        SRDataModule(train_dir=str(hr_folder), scale=3, patch_size=48).setup("fit")
    with pytest.raises(ValueError, match=r"coins.*smaller than an HR patch"):
        SRDataModule(scale=4, patch_size=96).setup("fit")
    with pytest.raises(ValueError, match=r"smaller than a validation crop"):
        SRDataModule(val_dir=str(hr_folder), val_crop_size=160).setup("validate")


def test_lr_hr_size_mismatch(tmp_path: Path) -> None:
    hr_dir, lr_dir = tmp_path / "DIV2K_valid_HR", tmp_path / "DIV2K_valid_LR_bicubic" / "X2"
    hr_dir.mkdir()
    lr_dir.mkdir(parents=True)
    hr = load_photo("coins")[:, :100, :100]
    _save_png(hr, hr_dir / "0801.png")
    _save_png(hr[:, :48:2, :50:2], lr_dir / "0801x2.png")
    with pytest.raises(
        ValueError, match=r"0801x2\.png' \(24 x 25\) does not match HR.*Expected an LR size of 50 x 50"
    ):
        SRDataModule(val_dir=str(hr_dir)).setup("validate")
    (lr_dir / "0801x2.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"0801x2\.png"):
        SRDataModule(val_dir=str(hr_dir)).setup("validate")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"scale": 0}, "scale"),
        ({"patch_size": 0}, "patch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"num_workers": -1}, "num_workers"),
        ({"train_samples_per_epoch": 8, "batch_size": 16}, "train_samples_per_epoch"),
        ({"val_crop_size": 1, "scale": 2}, "val_crop_size"),
        ({"val_crops_per_image": 0}, "val_crops_per_image"),
        ({"val_batch_size": 0}, "val_batch_size"),
        ({"val_photos": ("moon",)}, "val_photos"),
        ({"val_photos": ()}, "val_photos"),
    ],
)
def test_bad_arguments(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"`{name}`"):
        SRDataModule(**kwargs)


def test_epoch_sampler() -> None:
    sampler = EpochSampler(3)
    assert list(sampler) == [0, 1, 2] and len(sampler) == 3
    sampler.set_epoch(2)
    assert list(sampler) == [6, 7, 8]


def test_bicubic_downsample_errors() -> None:
    with pytest.raises(ValueError, match="divisible by scale 2"):
        bicubic_downsample(torch.rand(3, 5, 4), 2)
    with pytest.raises(ValueError, match="`hr`"):
        bicubic_downsample(torch.rand(5, 4), 1)
    torch.testing.assert_close(
        bicubic_downsample(torch.full((1, 3, 6, 6), 0.3), 3), torch.full((1, 3, 2, 2), 0.3)
    )


def test_trainer_sets_the_epoch_of_the_patch_sampler(tmp_path: Path) -> None:
    import warnings

    from lightning.pytorch import Callback, Trainer

    from hyra_lightning.models import ESPCN
    from hyra_lightning.module import SuperResolutionModule

    class Record(Callback):
        def __init__(self) -> None:
            self.batches: list[torch.Tensor] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self.batches.append(batch["hr"].clone())

    dm = SRDataModule(scale=2, patch_size=8, batch_size=2, train_samples_per_epoch=2, seed=3)
    record = Record()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(
            max_epochs=2,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            callbacks=[record],
            default_root_dir=str(tmp_path),
        )
        trainer.fit(SuperResolutionModule(ESPCN(scale=2), scale=2), datamodule=dm)
    expected = [torch.stack([dm.train_dataset[k]["hr"] for k in ks]) for ks in ((0, 1), (2, 3))]
    assert len(record.batches) == 2
    for got, want in zip(record.batches, expected, strict=True):
        assert torch.equal(got, want)


def test_16bit_files_are_read_at_full_depth(tmp_path: Path) -> None:
    """A 16-bit ramp of mean 0.5 (PNG grey, TIFF RGB) reaches the batches with mean 0.5 and all its values."""
    row = np.round(np.linspace(0, 65535, 96)).astype(np.uint16)
    ramp = np.repeat(row[None], 64, axis=0)
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    write_tiff16(tmp_path / "rgb16.tif", np.stack([ramp, ramp, ramp], axis=-1))
    dm = SRDataModule(
        train_dir=str(tmp_path),
        val_dir=str(tmp_path),
        scale=2,
        patch_size=32,
        batch_size=1,
        train_samples_per_epoch=1,
        augment=False,
        val_crop_size=None,
    )
    dm.setup("fit")
    for item in (dm.val_dataset[0], dm.val_dataset[1]):
        hr = item["hr"]
        assert hr.dtype == torch.float32
        assert abs(hr.mean().item() - 0.5) < 1e-6
        assert hr.unique().numel() == 96
        torch.testing.assert_close(hr[1, 0], torch.from_numpy(row / 65535.0).float())
    patch = dm.train_dataset[0]["hr"]
    assert patch.unique().numel() == 64  # a 64-pixel-wide window of the ramp: 64 distinct values


def test_float_tiff_out_of_range_named_when_read(tmp_path: Path) -> None:
    Image.fromarray(np.full((40, 40), 2.5, dtype=np.float32), mode="F").save(tmp_path / "radiance.tif")
    dm = SRDataModule(val_dir=str(tmp_path), scale=2, val_crop_size=None)
    with pytest.raises(ValueError, match=r"radiance\.tif.*\[2\.5, 2\.5\]"):
        dm.setup("validate")
        dm.val_dataset[0]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("num_replicas", [1, 2, 3])
def test_unpadded_distributed_sampler_scores_every_sample_once(size: int, num_replicas: int) -> None:
    from hyra_lightning.data import UnpaddedDistributedSampler

    if size < num_replicas:
        with pytest.raises(ValueError, match="at least one evaluation sample per process"):
            UnpaddedDistributedSampler(range(size), num_replicas=num_replicas, rank=0)
        return
    shards = [
        list(UnpaddedDistributedSampler(range(size), num_replicas=num_replicas, rank=r))
        for r in range(num_replicas)
    ]
    assert [i for shard in shards for i in shard] == list(range(size))  # each once, in order, rank zero first
    assert [len(s) for s in shards] == [
        len(UnpaddedDistributedSampler(range(size), num_replicas=num_replicas, rank=r))
        for r in range(num_replicas)
    ]
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_validation_loader_is_not_padded_under_ddp(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch.utils.data.distributed import DistributedSampler

    from hyra_lightning.data import UnpaddedDistributedSampler

    dm = SRDataModule(
        scale=2, batch_size=4, val_crop_size=32, val_crops_per_image=3, val_photos=("astronaut",)
    )
    assert not isinstance(dm.val_dataloader().sampler, DistributedSampler)  # no process group: all crops
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: 2)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda group=None: 1)
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        # a DistributedSampler: Lightning keeps it instead of putting in its padding one
        assert isinstance(loader.sampler, UnpaddedDistributedSampler)
        assert list(loader.sampler) == [2]
    # every crop on this process, to score the whole set on one rank (the CLI's fit summary)
    assert len(dm.val_dataloader(distributed=False).dataset) == 3
    assert not isinstance(dm.val_dataloader(distributed=False).sampler, DistributedSampler)
