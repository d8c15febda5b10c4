"""Run an OpenStack Interop guideline's required tempest tests against a fresh pocketstack.

Started by ``scripts/interop`` (``make interop``) with the Python of ``.venv-tempest`` (the
pinned tempest and its stestr/subunit; nothing else needed here but the standard library):

    .venv-tempest/bin/python interop/run.py [--guideline interop/2020.06-required.txt]
        [--out .interop] [--concurrency 2] [--filter REGEX] [--keep-cloud]

1. starts ``pocketstack up`` in a temporary state directory on 127.0.0.1 (a free port), with
   the ``fake`` compute and volume drivers (no QEMU guest, no iSCSI target: the guideline's
   tests check the APIs, and ``[validation] run_validation`` is off, so nothing logs into a
   guest); the network driver is the default ``noop``;
2. writes a tempest workspace in ``<out>/workspace`` with a ``tempest.conf`` for that cloud
   (Keystone v3 admin credentials, dynamic credentials, the ``cirros`` image and a second
   one uploaded here, ``cirros-alt``, for ``image_ref_alt``, flavors m1.tiny/m1.small, the
   ``public`` network, the Neutron extensions the cloud lists);
3. runs the guideline's required tests (``tempest run --include-list``, matched by
   idempotent id, so a test renamed since the guideline still counts);
4. prints a table per service (passed / failed / skipped / not in tempest / total) and writes
   ``<out>/failures.txt`` (each failed or missing test id with a one-line reason),
   ``<out>/skipped.txt``, ``<out>/summary.txt`` and ``<out>/results.subunit``.

Exit status: 0 when no required test failed (a test the guideline names but the pinned
tempest no longer has is counted "missing", listed in ``failures.txt`` and README.md, and
does not fail the run: nothing can run it), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POCKETSTACK = ROOT / ".venv" / "bin" / "pocketstack"
BIN = Path(sys.executable).parent
KINDS = ("pass", "fail", "skip", "miss")
SERVICES = ("identity", "compute", "image", "network", "volume", "object_storage")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: dict | None = None, token: str = "") -> tuple[dict, dict]:
    """JSON request; returns (headers, body). Raises urllib.error.URLError/HTTPError."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return {k.lower(): v for k, v in r.headers.items()}, (json.loads(raw) if raw else {})


class Cloud:
    """A ``pocketstack up`` process in a temporary state directory."""

    def __init__(self, state_dir: Path, port: int, log: Path):
        self.state_dir, self.port, self.log = state_dir, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> None:
        """Start and wait (up to ``timeout`` seconds) until the admin gets a token."""
        log = open(self.log, "w")
        cmd = [str(POCKETSTACK), "up", "--state-dir", str(self.state_dir)]
        cmd += ["--port", str(self.port), "--compute-driver", "fake", "--volume-driver", "fake"]
        cmd += ["--no-write-user-clouds"]
        # one compute host, as devstack's single-node gate: a resize may stay on it
        cmd += ["--allow-resize-to-same-host"]
        env = dict(os.environ)
        if os.environ.get("POCKETSTACK_SRC"):  # another checkout's package, e.g. a git archive
            env["PYTHONPATH"] = os.environ["POCKETSTACK_SRC"]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"pocketstack up exited; see {self.log}")
            try:
                self.token()
                return
            except (OSError, KeyError, ValueError):
                time.sleep(0.5)
        raise SystemExit("pocketstack up did not answer in time")

    def admin_password(self) -> str:
        return str(json.loads((self.state_dir / "bootstrap.json").read_text())["admin_password"])

    def token(self) -> str:
        user = {"name": "admin", "domain": {"id": "default"}, "password": self.admin_password()}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
        headers, _ = http("POST", f"{self.url}/identity/v3/auth/tokens", body)
        return headers["x-subject-token"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def alt_image(cloud: Cloud, tok: str, timeout: float = 60) -> str:
    """Id of a second public image, ``cirros-alt`` (raw, 1 KiB), created and uploaded here:
    tempest's ``image_ref_alt`` must differ from ``image_ref`` or the list-by-image tests of
    ListServerFiltersTestJSON skip ("Need distinct images")."""
    u = cloud.url
    body = {"name": "cirros-alt", "disk_format": "raw", "container_format": "bare"}
    body["visibility"] = "public"
    image_id = str(http("POST", f"{u}/image/v2/images", body, token=tok)[1]["id"])
    req = urllib.request.Request(
        f"{u}/image/v2/images/{image_id}/file", data=b"\0" * 1024, method="PUT"
    )
    req.add_header("Content-Type", "application/octet-stream")
    req.add_header("X-Auth-Token", tok)
    urllib.request.urlopen(req, timeout=30).close()
    deadline = time.monotonic() + timeout
    while http("GET", f"{u}/image/v2/images/{image_id}", token=tok)[1]["status"] != "active":
        if time.monotonic() > deadline:
            raise SystemExit(f"image {image_id} (cirros-alt) did not become active")
        time.sleep(0.5)
    return image_id


def cloud_facts(cloud: Cloud) -> dict[str, str]:
    """The ids tempest.conf names: images, flavors, public network, Neutron extensions."""
    tok = cloud.token()
    u = cloud.url
    images = http("GET", f"{u}/image/v2/images?name=cirros", token=tok)[1]["images"]
    flavors = http("GET", f"{u}/compute/v2.1/flavors", token=tok)[1]["flavors"]
    by_name = {f["name"]: f["id"] for f in flavors}
    nets = http("GET", f"{u}/networking/v2.0/networks?name=public", token=tok)[1]["networks"]
    exts = http("GET", f"{u}/networking/v2.0/extensions", token=tok)[1]["extensions"]
    return {
        "image": images[0]["id"],
        "image_alt": alt_image(cloud, tok),
        "flavor": by_name["m1.tiny"],
        "flavor_alt": by_name["m1.small"],
        "public_net": nets[0]["id"],
        "extensions": ",".join(e["alias"] for e in exts),
    }


TEMPEST_CONF = """\
[DEFAULT]
log_file = {ws}/tempest.log
use_stderr = false

[oslo_concurrency]
lock_path = {ws}/locks

[auth]
use_dynamic_credentials = true
create_isolated_networks = true
tempest_roles = member
admin_username = admin
admin_password = {password}
admin_project_name = admin
admin_domain_name = Default
admin_system = false

[identity]
uri_v3 = {url}/identity/v3
auth_version = v3
region = RegionOne
v3_endpoint_type = public
default_domain_id = default
admin_role = admin

[identity-feature-enabled]
api_v2 = false
api_v3 = true
trust = true
security_compliance = false
project_tags = true
application_credentials = true
access_rules = false

[compute]
image_ref = {image}
image_ref_alt = {image_alt}
flavor_ref = {flavor}
flavor_ref_alt = {flavor_alt}
fixed_network_name = private
min_compute_nodes = 1
min_microversion = 2.1
max_microversion = latest
build_timeout = 120

[compute-feature-enabled]
resize = true
rebuild = true
cold_migration = false
live_migration = false
pause = true
suspend = true
shelve = true
snapshot = true
console_output = true
interface_attach = true
change_password = false
vnc_console = false
spice_console = false
serial_console = false
rescue = true
attach_encrypted_volume = false
config_drive = true
personality = false
metadata_service = false

[image]
image_path = {ws}/cirros.img
http_image = 127.0.0.1
build_timeout = 120
container_formats = bare,ami,ari,aki,ovf,ova,docker,compressed
disk_formats = raw,qcow2,iso,vmdk,vdi,vhd,vhdx,ami,ari,aki,ploop

[image-feature-enabled]
import_image = true
os_glance_reserved = true
image_format_enforcement = false

[network]
public_network_id = {public_net}
floating_network_name = public
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
project_networks_reachable = false
build_timeout = 60

[network-feature-enabled]
ipv6 = true
api_extensions = {extensions}
ipv6_subnet_attributes = true
port_security = true

[validation]
run_validation = false

[volume]
catalog_type = volumev3
build_timeout = 120
volume_size = 1
storage_protocol = iSCSI
vendor_name = Open Source

[volume-feature-enabled]
backup = true
snapshot = true
clone = true
manage_snapshot = false
manage_volume = false
extend_attached_volume = false

[object-storage]
operator_role = member
reseller_admin_role = ResellerAdmin
build_timeout = 60

[object-storage-feature-enabled]
discoverability = true
container_sync = false
object_versioning = true

[service_available]
nova = true
glance = true
neutron = true
cinder = true
swift = true
heat = false
horizon = false
"""


def make_workspace(ws: Path, cloud: Cloud, facts: dict[str, str]) -> None:
    """A fresh tempest workspace in ``ws`` whose etc/tempest.conf points at ``cloud``."""
    if ws.exists():
        shutil.rmtree(ws)
    ws.parent.mkdir(parents=True, exist_ok=True)
    registry = ws.parent / "workspace.yaml"
    # tempest init refuses a name its registry already holds: a second run in the same --out
    # stopped here ("A workspace already exists with name"); the registry only serves this run
    registry.unlink(missing_ok=True)
    subprocess.run(
        [str(BIN / "tempest"), "init", "--workspace-path", str(registry), str(ws)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (ws / "locks").mkdir()
    (ws / "cirros.img").write_bytes(b"\0" * 1024)  # image data tempest uploads; any bytes do
    conf = TEMPEST_CONF.format(ws=ws, url=cloud.url, password=cloud.admin_password(), **facts)
    (ws / "etc" / "tempest.conf").write_text(conf)


def read_guideline(path: Path) -> tuple[str, list[tuple[str, str, bool]]]:
    """(guideline id, [(idempotent id, test name, flagged)]) of a required-tests file."""
    guideline, tests = "?", []
    for line in path.read_text().splitlines():
        m = re.match(r"# OpenStack Interop guideline (\S+)", line)
        if m:
            guideline = m.group(1)
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        tests.append((parts[0], parts[1], "flagged" in parts[3:]))
    return guideline, tests


def service_of(name: str) -> str:
    """The service a tempest test id belongs to (tempest.api.<service>...)."""
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[2] in SERVICES else "other"


def list_available(ws: Path, tests: list[tuple[str, str, bool]]) -> dict[str, str]:
    """idempotent id -> full test id, of the required tests this tempest has: the test of
    the guideline's name, or (renamed since) another carrying its id. A subclass repeats
    its parent's ids (RoutersIpV6Test of RoutersTest): the guideline's class is the one."""
    names = {test_id: name for test_id, name, _ in tests}
    out = subprocess.run(
        [str(BIN / "stestr"), "list"], cwd=ws, check=True, capture_output=True, text=True
    ).stdout
    found = {}
    for line in out.splitlines():
        m = re.search(r"\[(?:[^\]]*,)?(id-[0-9a-f-]{36})", line)
        if m and m.group(1) in names:
            if m.group(1) not in found or line.startswith(names[m.group(1)] + "["):
                found[m.group(1)] = line.strip()
    return found


def parse_results(ws: Path, out: Path) -> dict[str, tuple[str, str]]:
    """test name (without its [attributes]) or class of a failed/skipped class fixture ->
    (status, one-line reason) of the last run."""
    import subunit  # the tempest venv's
    import testtools

    raw = subprocess.run(
        [str(BIN / "stestr"), "last", "--subunit"], cwd=ws, capture_output=True
    ).stdout
    (out / "results.subunit").write_bytes(raw)
    results: dict[str, tuple[str, str]] = {}

    def on_test(test: dict) -> None:
        m = re.search(r"(id-[0-9a-f-]{36})", test["id"])
        fixture = re.match(r"(setUpClass|tearDownClass) \((\S+)\)", test["id"])
        if fixture and test["status"] in ("fail", "skip"):  # a class set-up failed or skipped
            reason = f"{fixture.group(1)}: {_reason(test)}"
            results.setdefault(fixture.group(2), (test["status"], reason))
        if not m or test["status"] not in ("success", "fail", "skip", "xfail", "uxsuccess"):
            return
        results[test["id"].split("[")[0]] = (test["status"], _reason(test))

    import io

    stream = subunit.ByteStreamToStreamResult(io.BytesIO(raw), non_subunit_name="stdout")
    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    stream.run(result)
    result.stopTestRun()
    return results


def _reason(test: dict) -> str:
    """One line: the exception of a failure, or a skip's reason."""
    for key in ("traceback", "reason"):
        detail = test["details"].get(key)
        if detail is None:
            continue
        text = detail.as_text().strip()
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines:
            continue
        exc = next(
            (
                ln
                for ln in reversed(lines)
                if re.match(
                    r"^[\w.]+(Error|Exception|"
                    r"Failure|NotFound|Forbidden|BadRequest|Conflict|Unauthorized|"
                    r"TimeoutException|Mismatch|Invalid\w*|ServerFault)\b",
                    ln,
                )
            ),
            lines[-1],
        )
        details = [ln for ln in lines if ln.startswith("Details:")]
        line = exc + (" " + details[-1] if details and details[-1] not in exc else "")
        return line[:300]
    return ""


def report(
    tests: list[tuple[str, str, bool]],
    available: dict[str, str],
    results: dict[str, tuple[str, str]],
    out: Path,
    guideline: str,
) -> bool:
    """Print the per-service table, write failures.txt/skipped.txt/summary.txt; True if clean."""
    counts: dict[str, dict[str, int]] = {}
    failures, skipped = [], []
    for test_id, name, flagged in tests:
        row = counts.setdefault(service_of(name), dict.fromkeys(KINDS, 0))
        flag = " (flagged)" if flagged else ""
        if test_id not in available:
            row["miss"] += 1
            failures.append(f"{name}[{test_id}] NOT IN TEMPEST{flag}: removed since the guideline")
            continue
        full = available[test_id].split("[")[0]
        status, reason = results.get(
            full, results.get(full.rsplit(".", 1)[0], ("fail", "did not run (its worker died)"))
        )
        if status in ("success", "xfail"):
            row["pass"] += 1
        elif status == "skip":
            row["skip"] += 1
            skipped.append(f"{available[test_id]}{flag}: {reason}")
        else:
            row["fail"] += 1
            failures.append(f"{available[test_id]}{flag}: {reason}")
    head = f"{'service':<16}{'passed':>8}{'failed':>8}{'skipped':>9}{'missing':>9}{'total':>7}"
    lines = [f"OpenStack Interop guideline {guideline}, required tests", head]
    total = dict.fromkeys(KINDS, 0)
    for svc in (*SERVICES, "other"):
        if svc not in counts:
            continue
        c = counts[svc]
        for k in total:
            total[k] += c[k]
        lines.append(
            f"{svc:<16}{c['pass']:>8}{c['fail']:>8}{c['skip']:>9}{c['miss']:>9}{sum(c.values()):>7}"
        )
    lines.append(
        f"{'all':<16}{total['pass']:>8}{total['fail']:>8}{total['skip']:>9}{total['miss']:>9}"
        f"{sum(total.values()):>7}"
    )
    text = "\n".join(lines)
    print(text)
    (out / "summary.txt").write_text(text + "\n")
    (out / "failures.txt").write_text("".join(f + "\n" for f in sorted(failures)))
    (out / "skipped.txt").write_text("".join(s + "\n" for s in sorted(skipped)))
    print(f"failing tests with reasons: {out / 'failures.txt'}; skipped: {out / 'skipped.txt'}")
    return total["fail"] == 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--guideline", default=str(ROOT / "interop" / "2020.06-required.txt"))
    p.add_argument("--out", default=str(ROOT / ".interop"))
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--filter", default="", help="only required tests whose name matches")
    p.add_argument("--keep-cloud", action="store_true", help="leave the cloud's state dir")
    args = p.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    guideline, tests = read_guideline(Path(args.guideline))
    if args.filter:
        tests = [t for t in tests if re.search(args.filter, t[1])]
    state = Path(tempfile.mkdtemp(prefix="pocketstack-interop-"))
    cloud = Cloud(state, free_port(), out / "up.log")
    try:
        t0 = time.monotonic()
        cloud.start()
        ws = out / "workspace"
        make_workspace(ws, cloud, cloud_facts(cloud))
        available = list_available(ws, tests)
        include = out / "include-list.txt"
        include.write_text(
            "".join(f"{re.escape(available[t[0]])}\n" for t in tests if t[0] in available)
        )
        print(f"interop: cloud {cloud.url} ({state}); running {len(tests)} required tests")
        subprocess.run(
            [str(BIN / "tempest"), "run", "--include-list", str(include)]
            + ["--concurrency", str(args.concurrency)],
            cwd=ws,
            stdout=open(out / "tempest-run.log", "w"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
        )
        results = parse_results(ws, out)
        ok = report(tests, available, results, out, guideline)
        print(f"interop: {time.monotonic() - t0:.0f} s")
        return 0 if ok else 1
    finally:
        cloud.stop()
        if args.keep_cloud:
            print(f"cloud state kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
