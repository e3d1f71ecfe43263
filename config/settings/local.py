"""A developer's machine and `make run`: the production shape (DEBUG off) unless DEBUG=1 is set."""

from .base import *  # noqa: F403
