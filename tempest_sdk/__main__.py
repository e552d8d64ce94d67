"""`python -m tempest_sdk`: the `tempest-sdk` command line."""

from ._cli import main

raise SystemExit(main())
