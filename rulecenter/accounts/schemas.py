"""API shapes of accounts' records that other apps' endpoints show (a change's segments)."""

from collections.abc import Iterable

from ninja import Field, Schema

from .models import Segment


class SegmentOut(Schema):
    slug: str = Field(examples=["apparel-zhejiang"])
    name: str = Field(examples=["浙江服装商家"])


def segments_out(segments: Iterable[Segment]) -> list[SegmentOut]:
    return [SegmentOut(slug=segment.slug, name=segment.name) for segment in segments]
