"""The root of every exception the SDK raises on purpose.

```
TempestError
├── MalformedTaskError            (models: a `next` answer that cannot be parsed)
│   └── UnknownTaskTypeError      (its `request_type` is not one this SDK knows)
├── client errors                 (tempest_sdk.client: configuration, transport, HTTP status)
└── app errors                    (tempest_sdk: definition mistakes, handler outcomes)
```
"""

from __future__ import annotations

__all__ = ["TempestError"]


class TempestError(Exception):
    """Base class of every error raised by tempest_sdk."""
