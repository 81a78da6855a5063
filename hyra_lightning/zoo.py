"""Load any super-resolution network worth analysing: published checkpoints, this package's, and references.

This is the one place that knows where a network comes from; everything downstream (the analysis, the
``analyze`` command) only sees an ``nn.Module`` and its scale. Three kinds of model specification:

- ``bicubic`` or ``sinc``: the reference upsamplers of :mod:`hyra_lightning.models`, whose impulse
  responses are known in closed form;
- a Lightning checkpoint written by :class:`~hyra_lightning.module.SuperResolutionModule` under
  ``hyra-lightning fit``: the network's class path and arguments are read from the checkpoint's
  hyperparameters when they name it, else from the ``config.yaml`` LightningCLI saved in the run folder;
- any other checkpoint file (``.pth``, ``.pt``, ``.ckpt``, ``.safetensors``) of a published architecture
  (ESRGAN, Real-ESRGAN, SwinIR, HAT, RCAN, SPAN, ...), detected from its state dict by spandrel, including
  the ``params`` / ``params_ema`` wrappers of BasicSR files. spandrel is the optional extra
  ``pip install "hyra-lightning[zoo]"``.

Reading a file never runs code from it. Pickled files are read with ``torch.load(weights_only=True)`` (tensors
and plain containers only; TorchScript archives, which hold code, are refused), ``.safetensors`` files hold
tensors only, and spandrel builds its own architecture classes from the tensors. The one name a checkpoint
gives, the class path of a ``hyra-lightning fit`` network, is checked on the string before anything is
imported: it must lie under :data:`TRUSTED_MODULES` or a module prefix the caller trusts
(``trust_modules=`` / ``--trust-module``), name a ``torch.nn.Module`` subclass, and take plain data as
arguments.
"""

from __future__ import annotations

import importlib
import keyword
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyra_lightning.checks import check_int
from hyra_lightning.options import ModelKind

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "REFERENCES",
    "TRUSTED_MODULES",
    "LoadedModel",
    "ModelLoadError",
    "check_trust_modules",
    "load_model",
    "spandrel_architectures",
]

#: File suffixes accepted as checkpoints.
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".ckpt", ".safetensors")

#: Names of the built-in reference upsamplers.
REFERENCES: tuple[str, ...] = ("bicubic", "sinc")

#: Module prefixes whose ``torch.nn.Module`` classes a checkpoint may name without ``--trust-module``:
#: this package's networks and spandrel's architectures.
TRUSTED_MODULES: tuple[str, ...] = ("hyra_lightning.models", "spandrel.architectures")

_ZOO_HINT = 'pip install "hyra-lightning[zoo]"'
_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_MAX_DEPTH = 32


class ModelLoadError(ValueError):
    """A model specification that cannot be turned into a network; the message says why and what to do."""


@dataclass
class LoadedModel:
    """A network ready to be probed.

    Attributes:
        model: the network, mapping ``(N, in_channels, h, w)`` images in [0, 1] to
            ``(N, out_channels, scale*h, scale*w)``; in eval mode, on the requested device.
        scale: integer upsampling factor.
        source: what was asked for (a file path or a reference name).
        architecture: the architecture's name (``"SwinIR"``, ``"EDSR"``, ``"bicubic"``...).
        kind: ``"reference"``, ``"hyra-lightning"`` or ``"spandrel"``.
        in_channels: number of input channels.
        out_channels: number of output channels.
        details: extra facts for the report (spandrel's tags, the hyperparameters of a module checkpoint...).
    """

    model: nn.Module
    scale: int
    source: str
    architecture: str
    kind: ModelKind
    in_channels: int = 3
    out_channels: int = 3
    details: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- spandrel


def _torchvision_release(torch_version: str) -> str | None:
    """The torchvision release made for a torch release (``"2.13.0+cpu"`` -> ``"0.28"``), None if unknown.

    torchvision 0.15 came with torch 2.0 and each torch 2.N with torchvision 0.(N + 15) since.
    """
    parts = torch_version.split("+")[0].split(".")
    if len(parts) < 2 or parts[0] != "2" or not parts[1].isdigit():
        return None
    return f"0.{int(parts[1]) + 15}"


def _install_advice() -> str:
    """What installing the ``zoo`` extra does here, and what to run instead on each kind of machine."""
    release = torch.__version__.split("+")[0]
    vision = _torchvision_release(torch.__version__)
    pair = f"torch=={release} torchvision=={vision}.*" if vision else f"torch=={release} torchvision"
    build = "a CPU build" if torch.version.cuda is None else f"a CUDA {torch.version.cuda} build"
    return (
        f"this torch is {torch.__version__}, {build}. `{_ZOO_HINT}` alone takes the newest torchvision, which"
        " requires the newest torch: on Linux pip then replaces the installed torch with PyPI's CUDA build"
        " (several GB), and PyPI's torchvision does not load beside a CPU build of torch. Install the torch and"
        f" torchvision pair first, then the extra. On a CPU-only Linux machine: `pip install {pair} --index-url"
        f" {_CPU_INDEX}`, then `{_ZOO_HINT}`. On a GPU machine: install the torch and torchvision pair of the"
        f" CUDA build you want (both from one index, e.g. `pip install torch torchvision`), then `{_ZOO_HINT}`."
    )


def _import_spandrel() -> Any:
    """Import spandrel, or raise :class:`ModelLoadError` saying what to install on this kind of machine."""
    try:
        return importlib.import_module("spandrel")
    except Exception as err:  # ImportError, or a torchvision that was built for another torch
        missing = err.name if isinstance(err, ModuleNotFoundError) else None
        if missing == "spandrel" or (
            isinstance(err, ImportError) and err.name is None and "No module named 'spandrel'" in str(err)
        ):
            raise ModelLoadError(
                f"Loading published checkpoints needs spandrel, which is not installed ({err}). spandrel needs"
                " torchvision, which only loads beside the torch it was built for (same release pair, same CPU or"
                f" CUDA build); {_install_advice()}"
            ) from err
        if missing and missing.split(".")[0] not in ("torch", "torchvision"):
            raise ModelLoadError(
                f"spandrel is installed but could not be imported: its dependency {missing!r} is missing ({err})."
                f" Install it: `pip install {missing.split('.')[0]}`."
            ) from err
        raise ModelLoadError(
            f"spandrel is installed but could not be imported: {type(err).__name__}: {err}. spandrel needs a"
            " torchvision built for the installed torch (same release pair, same CPU or CUDA build);"
            f" {_install_advice()}"
        ) from err


def spandrel_architectures() -> list[str]:
    """Names of the architectures spandrel can detect (raises :class:`ModelLoadError` without spandrel)."""
    spandrel = _import_spandrel()
    return sorted(arch.architecture.name for arch in spandrel.MAIN_REGISTRY.architectures())


class _PaddedForward(nn.Module):
    """Run a spandrel network on any input size: pad to its size requirements, crop the output back.

    spandrel's own ``descriptor(image)`` clamps the output to [0, 1], which would cut the negative lobes of
    an impulse response; this wrapper only pads (reflecting the image at the bottom and right borders) and
    crops.
    """

    def __init__(self, model: nn.Module, scale: int, minimum: int, multiple_of: int, square: bool) -> None:
        super().__init__()
        self.model = model
        self.scale = scale
        self.minimum = minimum
        self.multiple_of = multiple_of
        self.square = square

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        th, tw = max(h, self.minimum), max(w, self.minimum)
        if self.square:
            th = tw = max(th, tw)
        th = math.ceil(th / self.multiple_of) * self.multiple_of
        tw = math.ceil(tw / self.multiple_of) * self.multiple_of
        if (th, tw) == (h, w):
            return self.model(x)
        mode = "reflect" if th - h < h and tw - w < w else "replicate"
        out = self.model(F.pad(x, (0, tw - w, 0, th - h), mode=mode))
        return out[..., : h * self.scale, : w * self.scale]


def _load_spandrel(path: Path, device: torch.device, state_dict: dict[str, Any] | None) -> LoadedModel:
    """Detect the architecture with spandrel; ``state_dict`` is the file's content when torch could read it."""
    spandrel = _import_spandrel()
    loader = spandrel.ModelLoader(device="cpu")
    if state_dict is None:
        try:
            state_dict = loader.load_state_dict_from_file(str(path))
        except Exception as err:
            raise ModelLoadError(
                f"{path} is not a checkpoint that can be read ({type(err).__name__}: {err}). Expected a"
                f" PyTorch state dict ({', '.join(CHECKPOINT_SUFFIXES)})."
            ) from err
    else:
        state_dict = spandrel.canonicalize_state_dict(state_dict)
    if not isinstance(state_dict, dict) or not any(isinstance(v, Tensor) for v in state_dict.values()):
        raise ModelLoadError(f"{path} holds no tensors: it is not a model checkpoint.")
    try:
        descriptor = loader.load_from_state_dict(state_dict)
    except spandrel.UnsupportedModelError as err:
        known = ", ".join(spandrel_architectures())
        raise ModelLoadError(
            f"spandrel does not recognise the architecture of {path} (no known architecture matches its state"
            f" dict keys). Known architectures: {known}. A checkpoint of this package's own training is"
            " recognised by its hyper_parameters (saved by `hyra-lightning fit`)."
        ) from err
    except Exception as err:
        raise ModelLoadError(
            f"spandrel could not build a network from {path}: {type(err).__name__}: {err}"
        ) from err
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise ModelLoadError(
            f"{path} is a {descriptor.architecture.name} model for {descriptor.purpose!r}, which takes more than"
            " an image (e.g. a mask); only image-to-image networks can be probed."
        )
    req = descriptor.size_requirements
    model = _PaddedForward(
        descriptor.model, int(descriptor.scale), int(req.minimum), int(req.multiple_of), bool(req.square)
    )
    model.eval().float().to(device)  # half-precision files are probed in float32
    return LoadedModel(
        model=model,
        scale=int(descriptor.scale),
        source=str(path),
        architecture=str(descriptor.architecture.name),
        kind="spandrel",
        in_channels=int(descriptor.input_channels),
        out_channels=int(descriptor.output_channels),
        details={
            "purpose": str(descriptor.purpose),
            "tags": list(descriptor.tags),
            "size_requirements": {
                "minimum": int(req.minimum),
                "multiple_of": int(req.multiple_of),
                "square": bool(req.square),
            },
        },
    )


# --------------------------------------------------------------------------- this package's checkpoints


def _is_module_checkpoint(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("hyper_parameters"), dict)
        and isinstance(obj.get("state_dict"), dict)
        and any(str(k).startswith("model.") for k in obj["state_dict"])
    )


def _network_spec(path: Path, hparams: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The network's ``{"class_path", "init_args"}`` and where it was found.

    Looked up in the checkpoint's hyperparameters first, then in the ``config.yaml`` that ``hyra-lightning fit``
    (LightningCLI) saves in the run folder (``<run>/checkpoints/last.ckpt`` -> ``<run>/config.yaml``).
    """
    spec = hparams.get("model")
    if isinstance(spec, dict) and isinstance(spec.get("class_path"), str):
        return spec, "hyper_parameters"
    for config in (path.parent / "config.yaml", path.parent.parent / "config.yaml"):
        if not config.is_file():
            continue
        import yaml

        try:
            cfg = yaml.safe_load(config.read_text())
        except (OSError, yaml.YAMLError):
            continue
        spec = ((cfg or {}).get("model") or {}).get("model") if isinstance(cfg, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("class_path"), str):
            return spec, str(config)
    raise ModelLoadError(
        f"{path} is a SuperResolutionModule checkpoint, but neither its hyperparameters nor a config.yaml of"
        " its run (the file `hyra-lightning fit` saves next to the checkpoints folder) name the network. Keep"
        " the checkpoint in its run folder, or load it in Python with"
        " `SuperResolutionModule.load_from_checkpoint(path, model=YourNetwork(...))`."
    )


def _is_dotted_name(text: str) -> bool:
    """``a.b.C``: identifiers joined by dots, no keyword, no dunder part (``os.__dict__``)."""
    parts = text.split(".")
    return all(
        p.isidentifier() and not keyword.iskeyword(p) and not (p.startswith("__") and p.endswith("__"))
        for p in parts
    )


def check_trust_modules(trust_modules: Sequence[str] | None) -> tuple[str, ...]:
    """Validate the module prefixes a caller trusts (``--trust-module``) and return them as a tuple.

    Args:
        trust_modules: dotted module paths such as ``"mypkg.models"``; ``None`` for none.

    Returns:
        The prefixes, in order.

    Raises:
        ValueError: for a prefix that is not a dotted module path.

    Example:
        >>> check_trust_modules(["mypkg.models"])
        ('mypkg.models',)
    """
    prefixes = tuple(trust_modules or ())
    for prefix in prefixes:
        if not isinstance(prefix, str) or not _is_dotted_name(prefix):
            raise ValueError(
                f"`--trust-module` expects a dotted module path such as `mypkg.models`, got {prefix!r}."
            )
    return prefixes


def _is_trusted(class_path: str, prefixes: Sequence[str]) -> bool:
    """Whether ``class_path`` lies under one of ``prefixes``, on module boundaries.

    ``mypkg.models`` trusts ``mypkg.models.X`` and ``mypkg.models.sub.Y``, not ``mypkg.modelsevil.X``.
    """
    return any(class_path == p or class_path.startswith(p + ".") for p in prefixes)


def _check_spec(spec: Any, trusted: Sequence[str], where: str, depth: int = 0) -> None:
    """Check a ``{"class_path", "init_args"}`` spec on its strings alone: nothing is imported or called.

    The class path must be a dotted name under a trusted prefix; the arguments plain data (None, bool, int,
    float, str, lists, tuples and dicts with string keys of those) or nested specs that pass the same check.
    """
    class_path = spec.get("class_path")
    if not isinstance(class_path, str) or "." not in class_path or not _is_dotted_name(class_path):
        raise ModelLoadError(
            f"{where} names the network class {class_path!r}, which is not a dotted class path"
            " (`package.module.Class`)."
        )
    if not _is_trusted(class_path, trusted):
        module = class_path.rpartition(".")[0]
        raise ModelLoadError(
            f"{where} names the network class {class_path!r}, which is not trusted: reading a checkpoint only"
            f" builds torch.nn.Module classes from {', '.join(TRUSTED_MODULES)} and from the module prefixes"
            " given with `--trust-module`, and imports or runs nothing else. If you trust the code of"
            f" {module!r} (it will be imported and the class built), pass `--trust-module {module}` (in Python:"
            f" `load_model(path, trust_modules=[{module!r}])`)."
        )
    init_args = spec.get("init_args")
    if init_args is None:
        return
    if not isinstance(init_args, dict):
        raise ModelLoadError(
            f"{where}: the init_args of {class_path!r} must be a mapping of argument names to plain data, got a"
            f" {type(init_args).__name__}."
        )
    for name, value in init_args.items():
        _check_plain(value, trusted, where, f"init_args of {class_path!r}, argument {name!r}", depth + 1)


def _check_plain(value: Any, trusted: Sequence[str], where: str, what: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ModelLoadError(f"{where}: the {what} is nested more than {_MAX_DEPTH} levels deep.")
    if value is None or isinstance(value, bool | int | float | str):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_plain(item, trusted, where, what, depth + 1)
        return
    if isinstance(value, dict):
        if "class_path" in value:
            _check_spec(value, trusted, where, depth + 1)
            return
        for key, item in value.items():
            if not isinstance(key, str):
                raise ModelLoadError(f"{where}: the {what} has a key {key!r} that is not a string.")
            _check_plain(item, trusted, where, what, depth + 1)
        return
    raise ModelLoadError(
        f"{where}: the {what} is a {type(value).__name__}; arguments must be plain data (None, bool, int, float,"
        " str, lists and mappings of those)."
    )


def _build(spec: dict[str, Any], where: str) -> nn.Module:
    """Import and build a spec that :func:`_check_spec` accepted (nested specs first)."""
    class_path = spec["class_path"]
    module_name, _, class_name = class_path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # ImportError, or an error raised while the trusted module is imported
        raise ModelLoadError(
            f"{where} names the network class {class_path!r}, whose module cannot be imported"
            f" ({type(err).__name__}: {err}). Install the package that defines it."
        ) from err
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ModelLoadError(
            f"{where} names the network class {class_path!r}, but {module_name!r} has no class {class_name!r}."
        )
    if not isinstance(cls, type):
        raise ModelLoadError(
            f"{where} names {class_path!r}, which is a {'function' if callable(cls) else type(cls).__name__},"
            " not a torch.nn.Module subclass; only network classes are built."
        )
    if not issubclass(cls, nn.Module):
        raise ModelLoadError(
            f"{where} names {class_path!r}, which is not a torch.nn.Module subclass; only network classes are"
            " built."
        )
    kwargs = {name: _built_arg(value, where) for name, value in (spec.get("init_args") or {}).items()}
    try:
        return cls(**kwargs)
    except Exception as err:
        raise ModelLoadError(
            f"{where}: could not build {class_path}(**{spec.get('init_args') or {}}): {type(err).__name__}: {err}"
        ) from err


def _built_arg(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        if "class_path" in value:
            return _build(value, where)
        return {k: _built_arg(v, where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_built_arg(v, where) for v in value)
    return value


def _load_module_checkpoint(
    path: Path, ckpt: dict[str, Any], device: torch.device, trusted: Sequence[str]
) -> LoadedModel:
    hparams = ckpt["hyper_parameters"]
    spec, found_in = _network_spec(path, hparams)
    where = f"{path}" if found_in == "hyper_parameters" else f"{path} (its run's {found_in})"
    _check_spec(spec, trusted, where)  # before anything is imported or called
    class_path = spec["class_path"]
    class_name = class_path.rpartition(".")[2]
    init_args = dict(spec.get("init_args") or {})
    model = _build(spec, where)
    weights = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise ModelLoadError(f"{path}: the weights do not fit {class_path}: {err}") from err
    scale = hparams.get("scale", getattr(model, "scale", None))
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ModelLoadError(f"{path}: the hyperparameters give no integer `scale` (got {scale!r}).")
    n_colors = init_args.get("n_colors", 3)
    in_channels = n_colors if isinstance(n_colors, int) and not isinstance(n_colors, bool) else 3
    model.eval().to(device)
    return LoadedModel(
        model=model,
        scale=scale,
        source=str(path),
        architecture=class_name,
        kind="hyra-lightning",
        in_channels=in_channels,
        out_channels=in_channels,
        details={
            "class_path": class_path,
            "init_args": init_args,
            "network_from": found_in,
            "global_step": ckpt.get("global_step"),
        },
    )


# ------------------------------------------------------------------------------------------- public


def _load_reference(name: str, scale: int | None, device: torch.device) -> LoadedModel:
    from hyra_lightning.models import BicubicUpsampler, SincUpsampler

    if scale is None:
        raise ModelLoadError(
            f"The reference {name!r} needs a scale: pass `--scale S`, or analyse it together with a model"
            " checkpoint whose scale it then takes."
        )
    model: nn.Module = BicubicUpsampler(scale) if name == "bicubic" else SincUpsampler(scale)
    model.eval().to(device)
    architecture = "bicubic" if name == "bicubic" else "windowed sinc"
    return LoadedModel(
        model=model, scale=scale, source=name, architecture=architecture, kind="reference", details={}
    )


def load_model(
    spec: str | Path,
    *,
    scale: int | None = None,
    device: str | torch.device = "cpu",
    trust_modules: Sequence[str] | None = None,
) -> LoadedModel:
    """Load a network from a checkpoint file, or build a reference upsampler, without running code from the file.

    A file is read as data only (``torch.load(weights_only=True)``, safetensors, spandrel's own architecture
    classes). The network class a ``hyra-lightning fit`` checkpoint names is built only when it is a
    ``torch.nn.Module`` subclass under :data:`TRUSTED_MODULES` or under a prefix of ``trust_modules``; this is
    decided on the class path's text before anything is imported.

    Args:
        spec: ``"bicubic"``, ``"sinc"``, or the path of a checkpoint file (``.pth``, ``.pt``, ``.ckpt``,
            ``.safetensors``): a ``SuperResolutionModule`` checkpoint of ``hyra-lightning fit``, or any
            checkpoint of an architecture spandrel knows.
        scale: the expected scale. A reference takes it (and needs it); a checkpoint is checked against it.
        device: where to put the network.
        trust_modules: further module prefixes whose ``nn.Module`` classes a checkpoint may name (``--trust-module``
            of ``hyra-lightning analyze``), matched on module boundaries: ``"mypkg.models"`` trusts
            ``mypkg.models.Net`` and ``mypkg.models.sub.Net``, not ``mypkg.modelsevil.Net``. Trust only code
            you would run: the module is imported and the class built with the checkpoint's arguments.

    Returns:
        A :class:`LoadedModel` in eval mode.

    Raises:
        ModelLoadError: for a missing file, a file that is not a checkpoint (a TorchScript archive included), an
            unknown architecture (the message lists spandrel's), spandrel missing (the message says what to
            install), a network class that is not trusted or not an ``nn.Module`` (the message names the class
            path and ``--trust-module``), or a scale mismatch.
        ValueError: for a ``trust_modules`` entry that is not a dotted module path.

    Example:
        >>> m = load_model("bicubic", scale=2)
        >>> m.architecture, m.scale, m.kind
        ('bicubic', 2, 'reference')
    """
    check_int("scale", scale, optional=True)
    trusted = TRUSTED_MODULES + check_trust_modules(trust_modules)
    device = torch.device(device)
    text = str(spec)
    if text in REFERENCES:
        return _load_reference(text, scale, device)
    path = Path(text)
    if not path.exists():
        raise ModelLoadError(
            f"No such file: {text!r}. Expected a checkpoint file ({', '.join(CHECKPOINT_SUFFIXES)}) or one of"
            f" the references {list(REFERENCES)}."
        )
    if not path.is_file():
        raise ModelLoadError(f"{text!r} is a directory; expected a checkpoint file.")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise ModelLoadError(
            f"{path} is not a checkpoint: expected a file ending in {', '.join(CHECKPOINT_SUFFIXES)}, got"
            f" {path.suffix or 'no suffix'!r}."
        )
    content: dict[str, Any] | None = None
    if path.suffix.lower() != ".safetensors":
        if _is_torchscript(path):
            raise ModelLoadError(
                f"{path} is a TorchScript archive, which holds code; it is not opened. Save the network's"
                " state_dict() with torch.save (or as .safetensors) and analyse that file."
            )
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as err:
            # Nothing else reads it: a pickle that needs more than tensors and plain containers could run code.
            raise ModelLoadError(
                f"{path} is not a checkpoint that can be read as data ({type(err).__name__}: {err}). Expected a"
                f" PyTorch state dict or Lightning checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}) holding only"
                " tensors and plain containers. If the file comes from a source you trust, load it yourself and"
                " save its state_dict() with torch.save."
            ) from err
        else:
            if not isinstance(obj, dict):
                raise ModelLoadError(
                    f"{path} holds a {type(obj).__name__}, not a checkpoint: expected a dict of tensors (a state"
                    " dict, possibly wrapped in 'params' / 'params_ema' / 'state_dict') or a Lightning checkpoint."
                )
            if _is_module_checkpoint(obj):
                loaded = _load_module_checkpoint(path, obj, device, trusted)
                _check_scale(loaded, scale)
                return loaded
            content = obj
    loaded = _load_spandrel(path, device, content)
    _check_scale(loaded, scale)
    return loaded


def _is_torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip file whose top folder holds a ``code/`` folder)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _check_scale(loaded: LoadedModel, scale: int | None) -> None:
    if scale is not None and loaded.scale != scale:
        raise ModelLoadError(
            f"Scale mismatch: `--scale` is {scale}, but {loaded.source} is a x{loaded.scale} {loaded.architecture}."
            f" Pass `--scale {loaded.scale}` or analyse it in a separate run."
        )
