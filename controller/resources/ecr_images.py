"""Whether ECR holds the images a task definition names, before a revision is registered.

A tag typed wrong (or a build that never pushed) would otherwise become a new
revision, a rolling deployment whose tasks cannot pull, a circuit-breaker rollback and
a page minutes later. Only images of an ECR repository of the run's own account and
region are checked (a public image or another registry's is not ours to know). One
BatchGetImage per repository asks for every tag and digest at once, and its answer
per image is kept for the run. A repository that does not exist yet (a stack's first
apply creates it) cannot hold anything: the check starts once it exists.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from controller.aws import errors
from controller.aws.errors import error_code
from controller.resources.base import RunContext

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:<tag>][@<digest>]
ECR_IMAGE = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com"
                       r"(?:\.cn)?/(?P<repository>[a-z0-9._/-]+?)(?::(?P<tag>[\w.-]{1,128}))?"
                       r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?")


@dataclass(frozen=True)
class EcrImage:
    """One image of an ECR repository, by tag or (when both are written) by digest."""

    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        return self.repository + (f"@{self.digest}" if self.digest else f":{self.tag}")

    @property
    def image_id(self) -> dict[str, str]:
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag or "latest"}


def ecr_images(images: list[str], account: str | None, region: str) -> list[EcrImage]:
    """The images among `images` that live in ECR repositories of this account and region."""
    found = []
    for image in images:
        match = ECR_IMAGE.fullmatch(image)
        if match is None or match["region"] != region or account not in (None,
                                                                         match["account"]):
            continue
        found.append(EcrImage(match["repository"], match["tag"] or
                              (None if match["digest"] else "latest"), match["digest"]))
    return found


def not_in_ecr(images: list[EcrImage], ctx: RunContext) -> list[EcrImage]:
    """Those of `images` their repository does not hold (a repository not made yet holds
    nothing to check yet: none of its images is reported)."""
    by_repository: dict[str, list[EcrImage]] = defaultdict(list)
    for image in images:
        by_repository[image.repository].append(image)
    absent: list[EcrImage] = []
    for repository, wanted in sorted(by_repository.items()):
        held = ctx.cached(("ecr.images", repository, tuple(map(str, wanted))),
                          lambda r=repository, w=wanted: _held(ctx, r, w))  # type: ignore[misc]
        absent += [image for image in wanted if held is not None and str(image) not in held]
    return absent


def _held(ctx: RunContext, repository: str, wanted: list[EcrImage]) -> set[str] | None:
    """Which of `wanted` the repository holds; None when the repository does not exist."""
    try:
        answer = ctx.client("ecr").batch_get_image(
            repositoryName=repository, imageIds=[i.image_id for i in wanted],
            acceptedMediaTypes=["application/vnd.docker.distribution.manifest.v2+json",
                                "application/vnd.oci.image.manifest.v1+json",
                                "application/vnd.oci.image.index.v1+json",
                                "application/vnd.docker.distribution.manifest.list.v2+json"])
    except errors.ClientError as err:
        if error_code(err) == "RepositoryNotFoundException":
            return None
        raise
    failed = {(f["imageId"].get("imageTag"), f["imageId"].get("imageDigest"))
              for f in answer.get("failures") or []}
    return {str(image) for image in wanted
            if (image.image_id.get("imageTag"), image.image_id.get("imageDigest")) not in failed}
