"""API shapes of accounts' records that other apps' endpoints show (a change's segments)."""

from collections.abc import Iterable
from typing import Annotated

from ninja import Field, Schema
from pydantic import StringConstraints

from .models import Segment


class SegmentOut(Schema):
    slug: str = Field(examples=["apparel-zhejiang"])
    name: str = Field(examples=["浙江服装商家"])


def segments_out(segments: Iterable[Segment]) -> list[SegmentOut]:
    return [SegmentOut(slug=segment.slug, name=segment.name) for segment in segments]


SEGMENTS_MAX = 50  # a change concerns a few segments; more is not a targeting but a list of everyone
SegmentSlug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")]
