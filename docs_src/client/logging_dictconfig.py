import logging.config

logging.config.dictConfig(
    {
        "version": 1,
        "handlers": {"default": {"class": "logging.StreamHandler"}},
        "loggers": {
            "tempest_sdk": {"handlers": ["default"], "level": "DEBUG"},
            "httpx": {"handlers": ["default"], "level": "WARNING"},
        },
    }
)
