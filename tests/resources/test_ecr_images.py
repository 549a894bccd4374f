"""Which images a task definition names are the account's ECR images, and which ECR holds
(controller/resources/ecr_images.py), against a moto server."""

from __future__ import annotations

from controller.emulator import push_image
from controller.resources.ecr_images import EcrImage, ecr_images, not_in_ecr
from tests.conftest import AwsEnv

ACCOUNT, REGION = "111111111111", "us-east-1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32


def test_only_the_accounts_ecr_images_in_its_region_are_checked() -> None:
    images = [f"{REGISTRY}/iq-theory-api:1.4.3", f"{REGISTRY}/team/worker@{DIGEST}",
              f"{REGISTRY}/iq-theory-frontend", f"{REGISTRY}/both:1.0@{DIGEST}",
              "public.ecr.aws/nginx/nginx:1.27", "nginx:latest",
              f"222222222222.dkr.ecr.{REGION}.amazonaws.com/theirs:1",
              f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/elsewhere:1"]
    assert ecr_images(images, ACCOUNT, REGION) == [
        EcrImage("iq-theory-api", "1.4.3", None), EcrImage("team/worker", None, DIGEST),
        EcrImage("iq-theory-frontend", "latest", None), EcrImage("both", "1.0", DIGEST)]
    assert [str(i) for i in ecr_images(images, ACCOUNT, REGION)] == [
        "iq-theory-api:1.4.3", f"team/worker@{DIGEST}", "iq-theory-frontend:latest",
        f"both@{DIGEST}"]  # a digest names the image exactly: it is what is checked


def test_the_images_a_repository_lacks_in_one_call_per_repository(aws: AwsEnv) -> None:
    ecr = aws.client("ecr")
    for repository in ("iq-theory-api", "iq-theory-frontend"):
        ecr.create_repository(repositoryName=repository)
    digest = push_image(ecr, "iq-theory-api", "1.4.2")
    push_image(ecr, "iq-theory-frontend", "1.4.2")
    wanted = [EcrImage("iq-theory-api", "1.4.2", None), EcrImage("iq-theory-api", "1.4.3", None),
              EcrImage("iq-theory-api", None, digest),
              EcrImage("iq-theory-frontend", "1.4.2", None),
              EcrImage("not-made-yet", "1.0", None)]
    ctx = aws.ctx()
    assert not_in_ecr(wanted, ctx) == [EcrImage("iq-theory-api", "1.4.3", None)]
    assert ctx.aws.calls[("ecr", "BatchGetImage")] == 3  # one per repository
    assert not_in_ecr(wanted, ctx) == [EcrImage("iq-theory-api", "1.4.3", None)]
    assert ctx.aws.calls[("ecr", "BatchGetImage")] == 3  # once per run
