"""Per-dataset training recipes: what ``qgcam train --dataset NAME`` trains when a flag is
not given.

Each recipe is the configuration behind the result the docs state for its dataset (the run
that measured it is named in :data:`RECIPES`' comments and in the docs). ``qgcam train``
fills every training flag left out from the recipe of ``--dataset``; a flag that is given
wins, and the run's settings record which ones were given (``explicit_flags``).

Pure Python: the CLI reads the table for ``--help`` before TensorFlow loads.
:func:`learning_rate_schedule` imports ``tf_keras`` only when it is called.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

__all__ = [
    "LR_SCHEDULES",
    "RECIPES",
    "RECIPE_FIELDS",
    "Recipe",
    "describe",
    "get_recipe",
    "learning_rate_at",
    "learning_rate_schedule",
    "resolve",
]

# How the learning rate moves during training: "constant" (Adam's step size throughout) or
# "cosine" (a linear warm-up over the first WARMUP_EPOCHS of an epoch, then a cosine decay to
# 0 at the last step; see learning_rate_at).
LR_SCHEDULES = ("constant", "cosine")
WARMUP_EPOCHS = 0.25


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One dataset's training configuration (the values of ``qgcam train``'s flags).

    Attributes:
        epochs: ``--epochs``.
        qubits / depth: ``--qubits`` / ``--depth`` of the VQC.
        learning_rate: ``--learning-rate``, Adam's (peak) step size.
        lr_schedule: ``--lr-schedule``, one of :data:`LR_SCHEDULES`.
        batch_size: ``--batch-size``.
        backend: ``--backend``, the VQC executor used for training.
        options: dataset options (``--option KEY=VALUE``) the recipe sets; an ``--option``
            of the same key wins.
    """

    epochs: int
    qubits: int
    depth: int
    learning_rate: float
    lr_schedule: str
    batch_size: int
    backend: str
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)


# The Recipe fields that are flags of `qgcam train`, with the flag's name.
RECIPE_FIELDS = {
    "epochs": "--epochs",
    "qubits": "--qubits",
    "depth": "--depth",
    "learning_rate": "--learning-rate",
    "lr_schedule": "--lr-schedule",
    "batch_size": "--batch-size",
    "backend": "--backend",
}

RECIPES: dict[str, Recipe] = {
    # The make-demo run (README, "Two commands"): >= 0.99 on the 10 000 test digits within
    # 10 minutes of training on a 2-core machine; the tf executor trains fastest there.
    "mnist": Recipe(
        epochs=6,
        qubits=10,
        depth=2,
        learning_rate=5e-3,
        lr_schedule="cosine",
        batch_size=128,
        backend="tf",
    ),
    # docs/experiments.md, "Dogs vs Cats", the recipe choice: 96x96 photos, flips and crops,
    # reflection padding, 8 qubits, 60 epochs at lr 0.002 with cosine decay; the best on the
    # validation photos of three seeds among the 64-pixel recipe before it and three more
    # candidates (runs photos9-px96-s0..2: validation 0.680 against 0.670; test accuracy
    # 0.723 over those seeds, 0.697 for the 64-pixel recipe).
    "dogs-vs-cats": Recipe(
        epochs=60,
        qubits=8,
        depth=2,
        learning_rate=2e-3,
        lr_schedule="cosine",
        batch_size=32,
        backend="tfq",
        options={"image_size": "96", "augment": "flip,crop", "padding": "reflect"},
    ),
    # docs/experiments.md, "Speech in background noise": 4 qubits, 20 epochs, noise mixed at
    # 0-10 dB SNR; 0.92 clean-vs-noisy accuracy on held-out speakers and noise kinds at 0, 5
    # and 10 dB, averaged over seeds 0-2 (runs speech-recipe-s0..2). Recorded noise needs
    # --option noise-dir=DIR (without it the noise is white, pink and brown).
    "speech": Recipe(
        epochs=20,
        qubits=4,
        depth=2,
        learning_rate=5e-3,
        lr_schedule="constant",
        batch_size=32,
        backend="tfq",
        options={"snr_db": "0:10"},
    ),
}


def get_recipe(dataset: str) -> Recipe:
    """The recipe of ``dataset``.

    Raises:
        ValueError: no recipe for ``dataset`` (the message lists the datasets that have one).
    """
    if dataset not in RECIPES:
        raise ValueError(f"dataset {dataset!r} has no recipe; recipes exist for {sorted(RECIPES)}")
    return RECIPES[dataset]


def describe(recipe: Recipe) -> str:
    """One line for ``--help``: the recipe's flags and options as they would be typed."""
    parts = [f"{flag} {getattr(recipe, field)}" for field, flag in RECIPE_FIELDS.items()]
    parts += [f"--option {k.replace('_', '-')}={v}" for k, v in recipe.options.items()]
    return " ".join(parts)


def resolve(dataset: str, given: Mapping[str, object]) -> tuple[dict, list[str]]:
    """The training values: each given (not None) value, else the recipe's.

    Args:
        dataset: whose recipe fills the gaps.
        given: field of :data:`RECIPE_FIELDS` -> the flag's value, None when not given.

    Returns:
        ``(values, explicit)``: every field of :data:`RECIPE_FIELDS` with its value, and the
        sorted flags that were given (what the run records as chosen by hand).

    Raises:
        ValueError: unknown dataset, or a key of ``given`` that is not a recipe field.
    """
    recipe = get_recipe(dataset)
    unknown = sorted(set(given) - set(RECIPE_FIELDS))
    if unknown:
        raise ValueError(f"given holds keys that are no recipe fields: {unknown}")
    values, explicit = {}, []
    for field, flag in RECIPE_FIELDS.items():
        value = given.get(field)
        if value is None:
            value = getattr(recipe, field)
        else:
            explicit.append(flag)
        values[field] = value
    return values, sorted(explicit)


def _check_schedule(name: str, learning_rate: float, total_steps: int, steps_per_epoch) -> None:
    if name not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {name!r}")
    for arg, value in (("total_steps", total_steps), ("steps_per_epoch", steps_per_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be an int >= 1, got {value!r}")
    if not (isinstance(learning_rate, (int, float)) and 0 < learning_rate <= 1):
        raise ValueError(f"learning_rate must be a number in (0, 1], got {learning_rate!r}")


def _warmup_steps(total_steps: int, steps_per_epoch: int) -> int:
    """A quarter epoch, at least 1 step, and at most all steps but the last."""
    return max(1, min(int(WARMUP_EPOCHS * steps_per_epoch), total_steps - 1))


def learning_rate_at(
    name: str, learning_rate: float, step: int, total_steps: int, steps_per_epoch: int
) -> float:
    """The step size of schedule ``name`` at optimizer step ``step`` (0-based), in NumPy-free
    Python: the reference :func:`learning_rate_schedule` is tested against.

    ``"cosine"``: a linear rise from ``learning_rate / warmup`` at step 0 to
    ``learning_rate`` at step ``warmup`` (a quarter epoch), then
    ``learning_rate * (1 + cos(pi * t)) / 2`` with ``t`` going from 0 at step ``warmup`` to
    1 at the last step (and staying there).

    Raises:
        ValueError: unknown schedule, or a learning rate or step count out of range.
    """
    _check_schedule(name, learning_rate, total_steps, steps_per_epoch)
    if name == "constant":
        return float(learning_rate)
    warmup = _warmup_steps(total_steps, steps_per_epoch)
    if step < warmup:
        start = learning_rate / warmup
        return start + (learning_rate - start) * step / warmup
    t = min((step - warmup) / max(total_steps - warmup, 1), 1.0)
    return 0.5 * learning_rate * (1.0 + math.cos(math.pi * t))


def learning_rate_schedule(name: str, learning_rate: float, total_steps: int, steps_per_epoch: int):
    """Adam's ``learning_rate`` argument for schedule ``name``.

    Args:
        name: one of :data:`LR_SCHEDULES`.
        learning_rate: the peak step size, in (0, 1].
        total_steps: optimizer steps of the whole run (epochs x steps per epoch).
        steps_per_epoch: steps of one epoch (the warm-up is a quarter of it).

    Returns:
        ``learning_rate`` itself for ``"constant"``; for ``"cosine"`` a Keras
        ``CosineDecay`` with linear warm-up (a built-in schedule, so a saved optimizer
        needs nothing of this project). It is a function of the optimizer's step count
        only, so a resumed run continues the same curve.

    Raises:
        ValueError: unknown schedule, or a learning rate or step count out of range.
    """
    _check_schedule(name, learning_rate, total_steps, steps_per_epoch)
    if name == "constant":
        return float(learning_rate)
    import tf_keras as keras

    warmup = _warmup_steps(total_steps, steps_per_epoch)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=float(learning_rate) / warmup,
        decay_steps=max(total_steps - warmup, 1),
        alpha=0.0,
        warmup_target=float(learning_rate),
        warmup_steps=warmup,
    )
