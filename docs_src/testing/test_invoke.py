from my_app.app import app

from tempest_sdk.testing import invoke


def test_create():
    report = invoke(app, "item", "create", input={"name": "box"})
    assert report.status == "ok", report.message
    assert report.resource.properties["name"] == "box"
