"""The smallest standalone app: `python standalone.py` serves it."""

from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("standalone", "v1")


class Note(BaseModel):
    text: str = ""


note = app.resource(
    "note", display_name="Note", description="A note.", properties=Note
)


@note.create
async def create(input: Note) -> tempest.Resource:
    return tempest.Resource(
        external_id="note-1",
        display_name="Note",
        properties=input.model_dump(),
    )


if __name__ == "__main__":
    app.run()  # blocks until SIGINT or SIGTERM
