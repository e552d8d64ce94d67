"""The Tempest Private Apps API client: `AsyncTempestClient` and its sync twin `TempestClient`.

One typed method per endpoint, bearer auth from `token=` / `TEMPEST_TOKEN_FILE` /
`TEMPEST_TOKEN`, timeouts and a deadline per attempt, a sized connection pool, TLS and
proxy settings, a cap on answer sizes, retries with
full-jitter backoff on connection errors, 429 and 5xx, and one exception hierarchy
rooted at `tempest_sdk.TempestError`:

```
TempestError
├── TempestConfigError
└── APIError
    ├── APIConnectionError
    │   ├── APITimeoutError
    │   │   └── APIAttemptTimeoutError
    │   └── APITLSError
    ├── APIResponseTooLargeError
    ├── APIResponseValidationError
    └── APIStatusError
        ├── RequestRejectedError     4xx the same request would get again (413, 422, ...)
        │   └── BadRequestError      400
        ├── AuthenticationError      401
        ├── PermissionDeniedError    403
        ├── NotFoundError            404
        ├── RateLimitError           429
        └── InternalServerError      5xx
```

They also derive from the runner's outcome types (`tempest_sdk.runner.RetryLaterError`,
`GoneError`, ...), which is how a runner knows what to do after a failed call.
"""

from ._async import AsyncTempestClient as AsyncTempestClient
from ._config import DEFAULT_ATTEMPT_TIMEOUT as DEFAULT_ATTEMPT_TIMEOUT
from ._config import DEFAULT_ENDPOINT as DEFAULT_ENDPOINT
from ._config import DEFAULT_MAX_CONNECTIONS as DEFAULT_MAX_CONNECTIONS
from ._config import DEFAULT_MAX_RETRIES as DEFAULT_MAX_RETRIES
from ._config import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from ._config import MAX_RETRY_AFTER as MAX_RETRY_AFTER
from ._config import USE_CLIENT_DEFAULT as USE_CLIENT_DEFAULT
from ._config import TimeoutTypes as TimeoutTypes
from ._config import UseClientDefault as UseClientDefault
from ._errors import APIAttemptTimeoutError as APIAttemptTimeoutError
from ._errors import APIConnectionError as APIConnectionError
from ._errors import APIError as APIError
from ._errors import APIResponseTooLargeError as APIResponseTooLargeError
from ._errors import APIResponseValidationError as APIResponseValidationError
from ._errors import APIStatusError as APIStatusError
from ._errors import APITimeoutError as APITimeoutError
from ._errors import APITLSError as APITLSError
from ._errors import AuthenticationError as AuthenticationError
from ._errors import BadRequestError as BadRequestError
from ._errors import InternalServerError as InternalServerError
from ._errors import NotFoundError as NotFoundError
from ._errors import PermissionDeniedError as PermissionDeniedError
from ._errors import RateLimitError as RateLimitError
from ._errors import RequestRejectedError as RequestRejectedError
from ._errors import TempestConfigError as TempestConfigError
from ._http import DEFAULT_MAX_RESPONSE_SIZE as DEFAULT_MAX_RESPONSE_SIZE
from ._http import CertTypes as CertTypes
from ._http import VerifyTypes as VerifyTypes
from ._sync import TempestClient as TempestClient

__all__ = [
    "DEFAULT_ATTEMPT_TIMEOUT",
    "DEFAULT_ENDPOINT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RESPONSE_SIZE",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "MAX_RETRY_AFTER",
    "USE_CLIENT_DEFAULT",
    "APIAttemptTimeoutError",
    "APIConnectionError",
    "APIError",
    "APIResponseTooLargeError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITLSError",
    "APITimeoutError",
    "AsyncTempestClient",
    "AuthenticationError",
    "BadRequestError",
    "CertTypes",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestRejectedError",
    "TempestClient",
    "TempestConfigError",
    "TimeoutTypes",
    "UseClientDefault",
    "VerifyTypes",
]
