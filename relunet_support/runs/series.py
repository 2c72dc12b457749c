"""``WidthSeries``: runs at one learning rate over several widths — what notebooks 02 and 04 train and draw,
and what one batch of a study is. The rate is η, the same for every width, or η/α, giving η = (η/α)·α_m
per width: exactly one of the two (``rate_of``, the one place this is decided)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from relunet_support.errors import ConfigError, invalid
from relunet_support.runs.config import TrainConfig, check_options, format_number


def rate_of(learning_rate, normalised_learning_rate, where: str = "") -> tuple[float, bool]:
    """(the rate, whether it is η/α) from η and η/α, exactly one of which is given (not None); else a
    ConfigError naming both (``where``: e.g. "batch 2: ")."""
    if (learning_rate is None) == (normalised_learning_rate is None):
        raise ConfigError(
            f"{where}exactly one of learning_rate (η) and normalised_learning_rate (η/α) must be given "
            f"(learning_rate={learning_rate!r}, normalised_learning_rate={normalised_learning_rate!r})"
        )
    if normalised_learning_rate is not None:
        return normalised_learning_rate, True
    return learning_rate, False


@dataclass(frozen=True)
class WidthSeries:
    """One TrainConfig per width at ``rate`` (η, or η/α when ``normalised``); ``options`` are the other
    TrainConfig fields, the same for every width."""

    rate: float
    widths: tuple[int, ...]
    n_steps: int
    options: dict = field(default_factory=dict, hash=False)
    normalised: bool = False

    @classmethod
    def of(cls, widths, n_steps: int, learning_rate=None, normalised_learning_rate=None, **options) -> WidthSeries:
        """The series from a notebook's or a study's parameters, checked: exactly one of η and η/α, a non-empty
        list of different widths, every option a TrainConfig field, every config valid."""
        rate, normalised = rate_of(learning_rate, normalised_learning_rate)
        if not isinstance(widths, (list, tuple, range, np.ndarray)) or not len(widths):
            raise invalid("widths", widths, "a non-empty list of integers")
        series = cls(rate, tuple(widths), n_steps, check_options("options", options), normalised)
        series.configs()  # every width's config validated now
        return series

    def configs(self) -> list[TrainConfig]:
        """The runs, one per width, in the order given."""
        if self.normalised:
            configs = [TrainConfig.from_normalised(m, self.rate, self.n_steps, **self.options) for m in self.widths]
        else:
            configs = [
                TrainConfig(m=m, learning_rate=self.rate, n_steps=self.n_steps, **self.options) for m in self.widths
            ]
        ms = [config.m for config in configs]
        repeated = [m for i, m in enumerate(ms) if m in ms[:i]]
        if repeated:  # the same run twice: it would be trained twice at once
            raise invalid("widths", list(self.widths), f"a list of different widths ({repeated[0]} is repeated)")
        return configs

    @property
    def tag(self) -> str:
        """The one tag naming the series in executed notebooks and figures: 'lr4000_m200-1000' (η = 4000,
        widths 200 … 1000), 'nlr2_m200-1000' (η/α = 2), 'lr70_m800' (one width); the rate exact."""
        widths = sorted(int(m) for m in self.widths)
        span = f"{widths[0]}" if len(widths) == 1 else f"{widths[0]}-{widths[-1]}"
        return f"{'nlr' if self.normalised else 'lr'}{format_number(self.rate)}_m{span}"

    @property
    def label(self) -> str:
        """'η = 1000' or 'η/α = 2': the rate as figures and tables name it."""
        return f"{'η/α' if self.normalised else 'η'} = {format_number(self.rate)}"

    def check_drawable(self) -> None:
        """Notebooks 02–04 draw 1-D ReLU networks (exact extremes, kinks, orientations): a ConfigError naming
        the option for any other activation or input dimension."""
        config = self.configs()[0]
        if config.activation != "relu":
            raise invalid(
                "activation",
                config.activation,
                "'relu' for the notebooks that draw runs (train other activations with `relunet train` or train())",
            )
        if config.dimension > 1:
            raise invalid(
                "dataset",
                config.dataset,
                f"a data set of 1-D inputs for the notebooks that draw runs (these have d = {config.dimension}; "
                "train them with `relunet train` or train())",
            )
