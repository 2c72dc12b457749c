"""The TrainConfig fields as the command line, study files, sweep files and the notebooks' ``options`` see them:
``Option`` (flag, help text, choices, parsing of a text), built from each field's metadata, so that nothing
lists the fields by hand."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from relunet_support.network.data import is_number_text
from relunet_support.runs.config import OPTION_NAMES, TrainConfig


@dataclass(frozen=True)
class Option:
    """A TrainConfig field as the command line, the study and sweep files and the notebooks see it;
    built from the field's metadata (``OPTIONS``, ``RUN_FIELDS``), so none of them lists fields by hand."""

    name: str
    kind: str
    help: str
    default: object = None
    choices: tuple = ()

    @property
    def flag(self) -> str:
        """The command-line flag: '--gamma-prime'."""
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """Help text with the choices: what ``--help`` and the docs show."""
        return self.help + (f" ({' | '.join(self.choices)})" if self.choices else "")

    def parse(self, text):
        """Command-line text as this option's value: '800' → 800, '0.5' → 0.5, 'none' → None where
        None is allowed, ['0.1', '0.2'] or '0.1,0.2' → (0.1, 0.2) for a list of numbers. A text that is
        no number is passed on as it is, for TrainConfig to reject with the option's name; a value that
        is no text (a default) is returned as it is."""
        if self.kind == "numbers" and isinstance(text, list):
            text = ",".join(text)
        if not isinstance(text, str):
            return text
        if text.strip().lower() == "none" and self.default is None:
            return None
        if self.kind == "numbers":
            return tuple(_number(part.strip()) for part in text.split(",") if part.strip())
        return _number(text, exact=self.kind == "int") if self.kind in ("int", "float") else text


def _number(text: str, exact: bool = False):
    """'800' → 800, '0.5' / '1e3' → float, anything else unchanged (TrainConfig validates it). ``exact``: a
    text that the float would round ('1.00000000000000001') stays a text, for TrainConfig to read exactly."""
    if not is_number_text(text):  # '1_0', '١': passed on as text, for TrainConfig to refuse by name
        return text
    try:
        return int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            return text
    return text if exact and Decimal(value) != Decimal(text) else value


def _options_of(names=None) -> tuple[Option, ...]:
    fields_ = [f for f in dataclasses.fields(TrainConfig) if names is None or f.name in names]
    return tuple(
        Option(f.name, **{**f.metadata["relunet"], "default": None if f.default is dataclasses.MISSING else f.default})
        for f in fields_
    )


# What a run is made of (widths, the learning rate and the number of steps), and every other field (the options).
RUN_FIELDS: tuple[Option, ...] = _options_of(("m", "learning_rate", "n_steps"))
OPTIONS: tuple[Option, ...] = _options_of(OPTION_NAMES)
FIELD_NAMES: tuple[str, ...] = tuple(option.name for option in (*RUN_FIELDS, *OPTIONS))
