"""Start a moto server on a loopback port: the AWS stand-in for `gitops demo` and tests.

moto's account id is a setting of the server process, so one server serves one
account. moto is imported by the child process only: the production install
carries no emulator, and this module fails with a clear message without it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

# The AWS managed policies the stack and its tests attach: the only ones the emulator
# builds (all 1,582 cost a third of a second per reset; controller/motoserver.py).
MANAGED_POLICIES = ("AmazonECSTaskExecutionRolePolicy", "ReadOnlyAccess",
                    "AWSLambdaSQSQueueExecutionRole")


class EmulatorUnavailable(RuntimeError):
    """moto is not installed (the `demo` or `dev` extra brings it)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """A running moto server for one AWS account."""

    account: str
    process: subprocess.Popen[bytes]
    url: str

    def reset(self) -> None:
        """Forget every resource (about 0.7 s), keeping the process."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=30).close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_moto(account: str, *, extra_env: dict[str, str] | None = None,
               ready_within: float = 30.0) -> MotoServer:
    """Start `moto.server` for `account` and wait (by deadline) until it answers."""
    if importlib.util.find_spec("moto") is None:
        raise EmulatorUnavailable(
            "the AWS emulator (moto) is not installed: pip install '.[demo]'"
        )
    port = free_port()
    env = {
        **os.environ,
        "MOTO_ACCOUNT_ID": account,
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        "GITOPS_MOTO_MANAGED_POLICIES": ",".join(MANAGED_POLICIES),
        "MOTO_ACM_VALIDATION_WAIT": "0",  # ACM issues at once (AWS: once DNS answers)
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.motoserver", "-H", "127.0.0.1", "-p", str(port),
         "--no-request-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmulatorUnavailable(f"moto server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return MotoServer(account, proc, url)
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.05)
    proc.kill()
    raise EmulatorUnavailable(f"moto server did not answer within {ready_within:.0f} s")


def push_image(ecr: object, repository: str, tag: str) -> str:
    """What `docker push` leaves in ECR, for the emulator: an image manifest under `tag`
    (its layers are not needed to know the image is there). Pushing it again changes
    nothing, as with docker. Returns its digest."""
    import hashlib
    import json

    from botocore.exceptions import ClientError

    config = hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
    manifest = {"schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                           "size": 2, "digest": f"sha256:{config}"},
                "layers": []}
    try:
        answer = ecr.put_image(repositoryName=repository,  # type: ignore[attr-defined]
                               imageManifest=json.dumps(manifest), imageTag=tag)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ImageAlreadyExistsException":
            raise
        answer = ecr.batch_get_image(repositoryName=repository,  # type: ignore[attr-defined]
                                     imageIds=[{"imageTag": tag}])["images"][0]
        return str(answer["imageId"]["imageDigest"])
    return str(answer["image"]["imageId"]["imageDigest"])
