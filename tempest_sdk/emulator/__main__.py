"""`python -m tempest_sdk.emulator`: the emulator standalone."""

from ._cli import main

raise SystemExit(main())
