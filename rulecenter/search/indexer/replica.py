"""This node's `Replica` row and the generation it serves: what following, catching up and building share."""

from django.conf import settings

from ..backends import tantivy as engine
from ..models import Replica


def node() -> str:
    return str(settings.RULECENTER_SEARCH_NODE)[:100]


def replica_get() -> Replica:
    replica, _created = Replica.objects.get_or_create(node=node())
    return replica


def live_generation(replica: Replica) -> str | None:
    """The replica's generation if it is on disk and usable, repairing CURRENT if a switch was cut short."""
    generation = replica.generation
    if not generation or not engine.generation_usable(generation):
        return None
    if engine.current_generation() != generation:
        engine.set_current(generation)
    return generation
