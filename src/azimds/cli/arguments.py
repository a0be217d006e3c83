"""Argument types shared by the sub-commands of ``azimds``."""

from __future__ import annotations

import argparse
import math


def seconds(text: str) -> float:
    """Return ``text`` as a positive, finite number of seconds (an argparse ``type``).

    Raises:
        argparse.ArgumentTypeError: it is not one (argparse prints the message).
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value
