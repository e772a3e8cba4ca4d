"""``python -m traintriage`` is the ``traintriage`` command."""

from .cli import run

run()
