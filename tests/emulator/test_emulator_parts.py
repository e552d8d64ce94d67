"""`Emulator` is composed by concern; its public API is pinned so no part loses a name."""

from __future__ import annotations

from tempest_sdk.emulator import Emulator

# Each public name of Emulator, by the part (class and module) that defines it.
PARTS = {
    "Serving": {
        "base_path", "client", "handle", "lease_timeout", "rotate_token", "serve",
        "serve_in_thread", "serving", "set_page_size", "sync_client", "token", "transport",
        "url",
    },
    "ControlPlane": {
        "add_project", "add_recipe", "add_resource", "clear_faults", "enqueue",
        "enqueue_action", "enqueue_list", "enqueue_operation", "faults", "inject", "reset",
    },
    "Inspection": {
        "connects", "deliveries", "duplicate_reports", "health_reports", "leased", "queued",
        "reported", "reports", "request_counts", "task", "timing", "violations",
    },
    "Waits": {
        "wait_for_connects", "wait_for_connects_async", "wait_for_health_reports",
        "wait_for_health_reports_async", "wait_for_reports", "wait_for_reports_async",
    },
}  # fmt: skip


def test_the_public_api_is_the_sum_of_the_parts():
    public = {name for name in dir(Emulator) if not name.startswith("_")}
    owners = {
        name: next(part.__name__ for part in Emulator.__mro__ if name in vars(part))
        for name in public
    }

    assert public == set().union(*PARTS.values())
    for part, names in PARTS.items():
        assert {name for name, owner in owners.items() if owner == part} == names, part


def test_each_public_name_has_a_docstring():
    for name in set().union(*PARTS.values()):
        attribute = getattr(Emulator, name)
        doc = attribute.__doc__ if not isinstance(attribute, property) else attribute.fget.__doc__
        assert doc and doc.strip(), name
