"""What reading a checkpoint may do: build only trusted ``nn.Module`` classes, never run anything a file names.

None of these tests needs spandrel: they run wherever the package is installed. The networks of spandrel's
architectures are tested in ``tests/test_zoo.py``.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from hyra_lightning import zoo
from hyra_lightning.commands.analyze import main as analyze_main
from hyra_lightning.models import EDSR
from hyra_lightning.zoo import TRUSTED_MODULES, ModelLoadError, load_model


def _checkpoint(path: Path, network: dict | None, state: dict | None = None, scale: int = 2) -> Path:
    """A checkpoint shaped like those of ``hyra-lightning fit``; ``network`` is the ``model`` hyperparameter."""
    hparams: dict = {"scale": scale}
    if network is not None:
        hparams["model"] = network
    torch.save({"state_dict": state or {"model.x": torch.zeros(1)}, "hyper_parameters": hparams}, path)
    return path


def _payloads(marker: Path) -> dict[str, dict]:
    """Specs that create ``marker`` when their class path is imported and called with their arguments."""
    return {
        "subprocess.call": {"class_path": "subprocess.call", "init_args": {"args": ["touch", str(marker)]}},
        "os.system": {"class_path": "os.system", "init_args": {"command": f"touch {marker}"}},
    }


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path / "pwned"


@pytest.mark.parametrize("class_path", ["subprocess.call", "os.system"])
def test_a_checkpoint_naming_a_function_runs_nothing(tmp_path, marker, class_path):
    path = _checkpoint(tmp_path / "e.ckpt", _payloads(marker)[class_path])
    with pytest.raises(ModelLoadError) as exc:
        load_model(path)
    assert not marker.exists()
    message = str(exc.value)
    assert repr(class_path) in message and "--trust-module" in message and "not trusted" in message


@pytest.mark.parametrize("class_path", ["subprocess.call", "os.system"])
def test_the_analyze_command_runs_nothing_a_checkpoint_names(tmp_path, marker, class_path, capsys):
    path = _checkpoint(tmp_path / "e.ckpt", _payloads(marker)[class_path])
    out = tmp_path / "report"
    assert analyze_main([str(path), "--out", str(out), "--no-progress"]) == 1
    assert not marker.exists()
    (entry,) = json.loads((out / "report.json").read_text())["models"]
    assert repr(class_path) in entry["error"] and "--trust-module" in entry["error"]
    assert "--trust-module" in capsys.readouterr().err


def test_a_config_yaml_of_the_run_folder_runs_nothing(tmp_path, marker):
    """LightningCLI's layout: ``<run>/config.yaml`` beside ``<run>/checkpoints/last.ckpt``."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for class_path, spec in _payloads(marker).items():
        (run / "config.yaml").write_text(yaml.safe_dump({"model": {"model": spec}}))
        path = _checkpoint(run / "checkpoints" / "last.ckpt", None)
        with pytest.raises(ModelLoadError) as exc:
            load_model(path)
        assert not marker.exists()
        assert repr(class_path) in str(exc.value) and "--trust-module" in str(exc.value)
        assert str(run / "config.yaml") in str(exc.value)


def test_a_nested_class_path_in_the_arguments_runs_nothing(tmp_path, marker):
    inner = _payloads(marker)["subprocess.call"]
    spec = {"class_path": "hyra_lightning.models.EDSR", "init_args": {"scale": 2, "head": inner}}
    with pytest.raises(ModelLoadError, match=r"'subprocess\.call'.*--trust-module"):
        load_model(_checkpoint(tmp_path / "e.ckpt", spec))
    assert not marker.exists()


def test_arguments_that_are_not_plain_data_are_refused(tmp_path):
    spec = {"class_path": "hyra_lightning.models.EDSR", "init_args": {"scale": 2, "n_feats": torch.tensor(8)}}
    with pytest.raises(ModelLoadError, match=r"init_args.*n_feats.*plain data"):
        load_model(_checkpoint(tmp_path / "e.ckpt", spec))


@pytest.mark.parametrize(
    ("class_path", "trust", "what"),
    [
        ("hyra_lightning.models.edsr._conv3x3", [], "a function"),
        ("hyra_lightning.models.reference.Tensor", [], "not a torch.nn.Module subclass"),
        ("collections.OrderedDict", ["collections"], "not a torch.nn.Module subclass"),
        ("subprocess.call", ["subprocess"], "a function"),
        ("hyra_lightning.models.NoSuchNet", [], "has no class 'NoSuchNet'"),
        ("hyra_lightning.models.nowhere.Net", [], "cannot be imported"),
    ],
)
def test_a_trusted_name_that_is_not_a_network_class_is_an_error(tmp_path, marker, class_path, trust, what):
    spec = {"class_path": class_path, "init_args": {"args": ["touch", str(marker)]} if trust else {}}
    with pytest.raises(ModelLoadError, match=what) as exc:
        load_model(_checkpoint(tmp_path / "e.ckpt", spec), trust_modules=trust)
    assert not marker.exists() and repr(class_path) in str(exc.value)


@pytest.mark.parametrize("class_path", ["os", "os..system", "os.__dict__", "1os.system", ""])
def test_a_class_path_that_is_not_a_dotted_name_is_refused(tmp_path, class_path):
    with pytest.raises(ModelLoadError, match="dotted class path"):
        load_model(_checkpoint(tmp_path / "e.ckpt", {"class_path": class_path}), trust_modules=["os"])


def test_trust_is_a_prefix_on_module_boundaries():
    trusted = ("mypkg.models",)
    assert zoo._is_trusted("mypkg.models.X", trusted)
    assert zoo._is_trusted("mypkg.models.sub.Y", trusted)
    assert zoo._is_trusted("mypkg.models", trusted)
    assert not zoo._is_trusted("mypkg.modelsevil.X", trusted)
    assert not zoo._is_trusted("mypkg.X", trusted)
    assert not zoo._is_trusted("evil.mypkg.models.X", trusted)
    assert zoo._is_trusted("hyra_lightning.models.EDSR", TRUSTED_MODULES)
    assert zoo._is_trusted("spandrel.architectures.SwinIR.SwinIR", TRUSTED_MODULES)
    assert not zoo._is_trusted("hyra_lightning.module.SuperResolutionModule", TRUSTED_MODULES)
    assert not zoo._is_trusted("spandrel.ModelLoader", TRUSTED_MODULES)


_NET = """
from torch import nn


class Net(nn.Module):
    def __init__(self, scale: int = 2, width: int = 4) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(3, 3 * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x):
        return self.shuffle(self.conv(x))
"""


@pytest.fixture
def user_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``trustme_models`` (a network) and ``trustme_modelsevil`` (writes a file when imported) on ``sys.path``."""
    root = tmp_path / "site"
    (root / "trustme_models").mkdir(parents=True)
    (root / "trustme_models" / "__init__.py").write_text(_NET)
    sentinel = tmp_path / "imported"
    (root / "trustme_modelsevil.py").write_text(
        f"from pathlib import Path\nPath({str(sentinel)!r}).touch()\n" + textwrap.dedent(_NET)
    )
    monkeypatch.syspath_prepend(str(root))
    for name in ("trustme_models", "trustme_modelsevil"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    importlib.invalidate_caches()
    return sentinel


def _user_checkpoint(path: Path, class_path: str) -> Path:
    torch.manual_seed(0)
    net = nn.Conv2d(3, 12, 3, padding=1)
    state = {f"model.conv.{k}": v for k, v in net.state_dict().items()}
    return _checkpoint(path, {"class_path": class_path, "init_args": {"scale": 2}}, state)


def test_a_trusted_prefix_loads_the_users_network_and_nothing_beside_it(tmp_path, user_packages):
    good = _user_checkpoint(tmp_path / "good.ckpt", "trustme_models.Net")
    with pytest.raises(ModelLoadError, match=r"'trustme_models\.Net'.*--trust-module trustme_models"):
        load_model(good)
    loaded = load_model(good, trust_modules=["trustme_models"])
    assert loaded.architecture == "Net" and loaded.scale == 2 and loaded.kind == "hyra-lightning"
    assert type(loaded.model).__module__ == "trustme_models"
    evil = _user_checkpoint(tmp_path / "evil.ckpt", "trustme_modelsevil.Net")
    with pytest.raises(ModelLoadError, match=r"'trustme_modelsevil\.Net'.*not trusted"):
        load_model(evil, trust_modules=["trustme_models"])
    assert not user_packages.exists()  # decided on the name: the module was never imported
    assert "trustme_modelsevil" not in sys.modules


def test_the_analyze_command_passes_trust_module_on(tmp_path, user_packages, capsys):
    from PIL import Image

    image = tmp_path / "flat.png"
    Image.new("RGB", (24, 24), (120, 60, 200)).save(image)
    good = _user_checkpoint(tmp_path / "good.ckpt", "trustme_models.Net")
    common = ["--images", str(image), "--size", "5", "--no-progress"]
    assert analyze_main([str(good), *common, "--out", str(tmp_path / "a")]) == 1
    assert "--trust-module trustme_models" in capsys.readouterr().err
    args = [str(good), *common, "--out", str(tmp_path / "b"), "--trust-module", "other", "--trust-module"]
    assert analyze_main([*args, "trustme_models"]) == 0
    (entry,) = json.loads((tmp_path / "b" / "report.json").read_text())["models"]
    assert entry["error"] is None and entry["architecture"] == "Net"
    assert analyze_main([str(good), *common, "--out", str(tmp_path / "c"), "--trust-module", "a b"]) == 2
    assert "`--trust-module` expects a dotted module path" in capsys.readouterr().err


def test_the_package_networks_load_without_trust_module(tmp_path):
    args = {"scale": 2, "n_resblocks": 1, "n_feats": 8}
    net = EDSR(**args)
    state = {f"model.{k}": v for k, v in net.state_dict().items()}
    spec = {"class_path": "hyra_lightning.models.EDSR", "init_args": args}
    loaded = load_model(_checkpoint(tmp_path / "edsr.ckpt", spec, state))
    assert isinstance(loaded.model, EDSR) and loaded.details["init_args"] == args
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(loaded.model(x), net.eval()(x))


def test_a_torchscript_archive_is_not_opened(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.script(nn.Conv2d(3, 3, 3)).save(str(path))
    with pytest.raises(ModelLoadError, match="TorchScript archive"):
        load_model(path)


# ------------------------------------------------------------------------ spandrel and torchvision


def _failing_import(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    real = zoo.importlib.import_module

    def fake(name: str, *args, **kwargs):
        if name == "spandrel":
            raise error
        return real(name, *args, **kwargs)

    monkeypatch.setattr(zoo.importlib, "import_module", fake)


def test_the_torchvision_release_of_a_torch_release():
    assert zoo._torchvision_release("2.4.1") == "0.19"
    assert zoo._torchvision_release("2.13.0+cpu") == "0.28"
    assert zoo._torchvision_release("2.14.1+cu128") == "0.29"
    assert zoo._torchvision_release("3.0.0") is None


def _assert_says_what_to_run(message: str) -> None:
    torch_release = torch.__version__.split("+")[0]
    vision = zoo._torchvision_release(torch.__version__)
    assert 'pip install "hyra-lightning[zoo]"' in message
    assert "CPU-only Linux" in message and "GPU machine" in message
    assert f"pip install torch=={torch_release} torchvision=={vision}.*" in message
    assert "--index-url https://download.pytorch.org/whl/cpu" in message
    assert "CUDA build" in message and torch.__version__ in message


def test_spandrel_not_installed_says_what_to_run_on_each_kind_of_machine(monkeypatch):
    _failing_import(monkeypatch, ModuleNotFoundError("No module named 'spandrel'", name="spandrel"))
    with pytest.raises(ModelLoadError, match="spandrel, which is not installed") as exc:
        zoo.spandrel_architectures()
    _assert_says_what_to_run(str(exc.value))


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("operator torchvision::nms does not exist"),
        ModuleNotFoundError("No module named 'torchvision'", name="torchvision"),
        ImportError("libtorch_cuda.so: cannot open shared object file"),
    ],
)
def test_a_torchvision_that_does_not_fit_torch_says_what_to_run(monkeypatch, error):
    _failing_import(monkeypatch, error)
    with pytest.raises(ModelLoadError, match="torchvision built for the installed torch") as exc:
        zoo.spandrel_architectures()
    assert str(error) in str(exc.value)
    _assert_says_what_to_run(str(exc.value))


def test_a_missing_dependency_of_spandrel_is_named(monkeypatch):
    _failing_import(monkeypatch, ModuleNotFoundError("No module named 'einops'", name="einops"))
    with pytest.raises(ModelLoadError, match=r"its dependency 'einops' is missing.*`pip install einops`"):
        zoo.spandrel_architectures()


def test_a_network_class_that_is_not_a_module_leaves_the_other_models_their_report(tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "flat.png"
    Image.new("RGB", (24, 24), (120, 60, 200)).save(image)
    path = _checkpoint(tmp_path / "dict.ckpt", {"class_path": "collections.OrderedDict", "init_args": {}})
    out = tmp_path / "report"
    args = [str(path), "bicubic", "--scale", "2", "--trust-module", "collections", "--images", str(image)]
    assert analyze_main([*args, "--size", "5", "--out", str(out), "--no-progress"]) == 1
    broken, bicubic = json.loads((out / "report.json").read_text())["models"]
    assert "'collections.OrderedDict', which is not a torch.nn.Module subclass" in broken["error"]
    assert bicubic["error"] is None and bicubic["descriptors"]["dc_gain"] == pytest.approx(1.0, abs=1e-6)
    assert "error: dict:" in capsys.readouterr().err
