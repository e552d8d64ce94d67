"""Serve the tickets app, recording the tasks that fail (docs/debugging)."""

from tickets import app

if __name__ == "__main__":
    # TEMPEST_TOKEN and TEMPEST_API_ENDPOINT come from the environment.
    app.run(
        record="tickets-errors.jsonl",
        record_only="errors",
        log_format="text",
    )
