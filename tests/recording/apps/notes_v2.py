"""The notes app, v2: its create handler changed (loaded by path from the command line)."""

from notes import build

app = build("v2", changed=True)
