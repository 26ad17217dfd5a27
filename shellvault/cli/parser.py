"""argparse, failing the way every other failure does: one `shellvault: …` line on stderr."""

from __future__ import annotations

import argparse
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """A usage error is one line naming the command and `--help`, not a usage block plus a line.

    `add_subparsers` makes its parsers of the parent's class, so every command's parser is one.
    """

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("shellvault").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"shellvault: {where}{message}; see `{self.prog} --help`\n")
