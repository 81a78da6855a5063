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
"""

from __future__ import annotations

import importlib
import math
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
    "LoadedModel",
    "ModelLoadError",
    "load_model",
    "spandrel_architectures",
]

#: File suffixes accepted as checkpoints.
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".ckpt", ".safetensors")

#: Names of the built-in reference upsamplers.
REFERENCES: tuple[str, ...] = ("bicubic", "sinc")


_ZOO_HINT = 'pip install "hyra-lightning[zoo]"'


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


def _import_spandrel() -> Any:
    """Import spandrel, or raise :class:`ModelLoadError` saying how to install it."""
    try:
        return importlib.import_module("spandrel")
    except ImportError as err:
        raise ModelLoadError(
            f"Loading published checkpoints needs spandrel, which is not installed ({err}). Install the"
            f" optional extra: {_ZOO_HINT}"
        ) from err
    except Exception as err:  # e.g. a torchvision build that does not match torch
        raise ModelLoadError(
            f"spandrel is installed but could not be imported: {type(err).__name__}: {err}. spandrel needs a"
            " torchvision built for the installed torch (same release pair, same CPU/CUDA build); reinstall"
            f" torch and torchvision together, then {_ZOO_HINT}"
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


def _load_module_checkpoint(path: Path, ckpt: dict[str, Any], device: torch.device) -> LoadedModel:
    hparams = ckpt["hyper_parameters"]
    spec, found_in = _network_spec(path, hparams)
    class_path = spec["class_path"]
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ModelLoadError(
            f"{path} names the network {class_path!r}, which cannot be imported ({err}). Install the package"
            " that defines it."
        ) from err
    init_args = dict(spec.get("init_args") or {})
    try:
        model = cls(**init_args)
    except Exception as err:
        raise ModelLoadError(
            f"{path}: could not build {class_path}(**{init_args}): {type(err).__name__}: {err}"
        ) from err
    weights = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise ModelLoadError(f"{path}: the weights do not fit {class_path}: {err}") from err
    scale = hparams.get("scale", getattr(model, "scale", None))
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ModelLoadError(f"{path}: the hyperparameters give no integer `scale` (got {scale!r}).")
    in_channels = int(init_args.get("n_colors", 3))
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
    spec: str | Path, *, scale: int | None = None, device: str | torch.device = "cpu"
) -> LoadedModel:
    """Load a network from a checkpoint file, or build a reference upsampler.

    Args:
        spec: ``"bicubic"``, ``"sinc"``, or the path of a checkpoint file (``.pth``, ``.pt``, ``.ckpt``,
            ``.safetensors``): a ``SuperResolutionModule`` checkpoint of ``hyra-lightning fit``, or any
            checkpoint of an architecture spandrel knows.
        scale: the expected scale. A reference takes it (and needs it); a checkpoint is checked against it.
        device: where to put the network.

    Returns:
        A :class:`LoadedModel` in eval mode.

    Raises:
        ModelLoadError: for a missing file, a file that is not a checkpoint, an unknown architecture (the
            message lists spandrel's), spandrel missing (the message says ``pip install
            "hyra-lightning[zoo]"``), or a scale mismatch.

    Example:
        >>> m = load_model("bicubic", scale=2)
        >>> m.architecture, m.scale, m.kind
        ('bicubic', 2, 'reference')
    """
    check_int("scale", scale, optional=True)
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
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as err:
            # TorchScript and some pickles are only read by spandrel's loader; without spandrel, say what failed.
            try:
                _import_spandrel()
            except ModelLoadError:
                raise ModelLoadError(
                    f"{path} is not a checkpoint that can be read ({type(err).__name__}: {err})."
                    f" Expected a PyTorch state dict or Lightning checkpoint ({', '.join(CHECKPOINT_SUFFIXES)})."
                ) from err
        else:
            if not isinstance(obj, dict):
                raise ModelLoadError(
                    f"{path} holds a {type(obj).__name__}, not a checkpoint: expected a dict of tensors (a state"
                    " dict, possibly wrapped in 'params' / 'params_ema' / 'state_dict') or a Lightning checkpoint."
                )
            if _is_module_checkpoint(obj):
                loaded = _load_module_checkpoint(path, obj, device)
                _check_scale(loaded, scale)
                return loaded
            content = obj
    loaded = _load_spandrel(path, device, content)
    _check_scale(loaded, scale)
    return loaded


def _check_scale(loaded: LoadedModel, scale: int | None) -> None:
    if scale is not None and loaded.scale != scale:
        raise ModelLoadError(
            f"Scale mismatch: `--scale` is {scale}, but {loaded.source} is a x{loaded.scale} {loaded.architecture}."
            f" Pass `--scale {loaded.scale}` or analyse it in a separate run."
        )
