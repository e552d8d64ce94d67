"""The notes app, v1 (loaded by path from the command line)."""

from notes import build

app = build("v1")
