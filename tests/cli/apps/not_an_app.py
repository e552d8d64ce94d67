"""A module whose `app` is not an App."""

app = {"name": "not really an app"}
