"""Command-line flags built from the conversion options' one definition (`ConversionOptions`):
`--crf`, `--tile-size`, ... with the declared choices and help texts, defaults from the settings
(`HDRTV_*`), values checked by the same types and limits as everywhere else."""

from __future__ import annotations

import argparse
import typing
from typing import Any

from hdrtv.model.options import one_line
from hdrtv.worker.control.options import ConversionOptions, fields_model
from hdrtv.worker.control.settings import Settings
from pydantic import ValidationError
from pydantic.fields import FieldInfo


def add_option_flags(
    parser: argparse.ArgumentParser, names: tuple[str, ...], settings: Settings, **defaults: Any
) -> None:
    """A flag per option in `names`; its default from `defaults`, else the settings, else the
    option's own."""
    for name in names:
        field = ConversionOptions.model_fields[name]
        default = defaults.get(name, getattr(settings, name, field.default))
        flag = "--" + name.replace("_", "-")
        if field.annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=field.description)
            continue
        choices = _choices(field)
        help_text = field.description if default is None else f"{field.description} (default {default})"
        if choices is not None:
            parser.add_argument(flag, choices=choices, default=default, help=help_text)
        else:
            parser.add_argument(flag, type=_parser(name, field), default=default, metavar=name.upper(), help=help_text)


def chosen(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The values of the flags `add_option_flags` made."""
    return {name: getattr(args, name) for name in names}


def _choices(field: FieldInfo) -> tuple[str, ...] | None:
    """The values of a plain Literal option (argparse lists them in --help and in errors)."""
    if typing.get_origin(field.annotation) is typing.Literal:
        return typing.get_args(field.annotation)
    return None


def _parser(name: str, field: FieldInfo) -> typing.Callable[[str], Any]:
    """Text -> value by the option's declared type and limits ("none" where None is allowed)."""
    single = fields_model(name, (name,))
    nullable = type(None) in typing.get_args(field.annotation)

    def parse(text: str) -> Any:
        if nullable and text.lower() == "none":
            return None
        try:
            return getattr(single.model_validate({name: text}), name)
        except ValidationError as error:
            raise argparse.ArgumentTypeError(one_line(error)) from None

    parse.__name__ = name  # argparse names the type in its messages
    return parse
