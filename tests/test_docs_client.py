"""The samples of docs/client.md, run for real against the emulator on 127.0.0.1."""

from __future__ import annotations

import runpy
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator on 127.0.0.1 that the samples find through the environment."""
    emulator = Emulator()
    with emulator.serve_in_thread():
        monkeypatch.delenv("TEMPEST_TOKEN_FILE", raising=False)
        monkeypatch.setenv("TEMPEST_API_ENDPOINT", emulator.url)
        monkeypatch.setenv("TEMPEST_TOKEN", emulator.token)
        yield emulator
    assert emulator.violations == []


def run_sample(name: str) -> dict[str, object]:
    return runpy.run_module(f"docs_src.client.{name}", run_name="__main__")


def test_the_async_client_lists_projects_and_polls(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_project(
        {"id": "prj_shop", "name": "Shop", "organization_id": "org_1", "type": "app"}
    )
    run_sample("quickstart")
    printed = capsys.readouterr().out.splitlines()
    assert "prj_shop Shop" in printed
    assert printed[-1] == "no work right now"


def test_the_sync_client_reads_a_resource(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.add_resource(
        {
            "id": "res_01",
            "type": "example",
            "external_id": "ex-1",
            "display_name": "Example 1",
            "properties": {"color": "red"},
        }
    )
    run_sample("sync_client")
    assert capsys.readouterr().out == "Example 1 {'color': 'red'}\n"


def test_the_tls_sample_loads_a_private_ca_and_a_client_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sample names the paths a reader would have; this test's CA and client
    # certificate live in tmp_path, so only the CA's absolute path is swapped.
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "corp-ca.pem"))
    issued = ca.issue_cert("client.example.com")
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
    issued.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TEMPEST_TOKEN_FILE", raising=False)
    monkeypatch.setenv("TEMPEST_TOKEN", "docs-token")
    path = ROOT / "docs_src" / "client" / "tls.py"
    source = path.read_text("utf-8")
    assert source.count('"/etc/ssl/corp-ca.pem"') == 2
    source = source.replace('"/etc/ssl/corp-ca.pem"', repr(str(tmp_path / "corp-ca.pem")))
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(source, str(path), "exec"), namespace)

    assert isinstance(namespace["client"], AsyncTempestClient)
    context = namespace["context"]
    assert isinstance(context, ssl.SSLContext)
    trusted = [cert["subject"] for cert in context.get_ca_certs()]
    assert len(trusted) == 1, "the context trusts the private CA only"


def test_the_error_sample_drops_a_report_tempest_forgot(emulator: Emulator) -> None:
    run_sample("errors")  # NotFoundError is handled: no exception
    assert emulator.request_counts[("apps.operations.report", 404)] == 1


def test_the_error_sample_exits_with_the_message_on_a_rejected_token(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPEST_TOKEN", "not-the-emulator-token")
    with pytest.raises(SystemExit) as exited:
        run_sample("errors")
    message = str(exited.value.code)
    assert "401 Unauthorized: the API token was rejected" in message
    assert "not-the-emulator-token" not in message
