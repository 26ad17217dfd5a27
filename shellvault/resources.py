"""The shell snippets and the direnv library, wherever shellvault runs from.

In a checkout they are `shell/` and `direnvrc/` at the top of the repository; an installed wheel
carries them as the packages `shellvault.shell` and `shellvault.direnvrc` (pyproject.toml maps
the folders).
"""

from __future__ import annotations

import os

_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_text(folder: str, name: str) -> str:
    """`folder` is "shell" or "direnvrc"."""
    path = os.path.join(_CHECKOUT, folder, name)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    from importlib.resources import files

    return files(f"shellvault.{folder}").joinpath(name).read_text(encoding="utf-8")
