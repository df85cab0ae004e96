"""Names of the pipeline stages, as stored in ``Image.stage_keys`` and ``Failure.stage``.

An image's stage keys record, per stage, a hash of the settings that produced
what is stored (ingest writes ``elements`` and ``associations``, captioning
``captions:<realizer>``); a failure names the stage that could not use the
image. Ingest, captioning and the graph's write plan share these names.
"""

from __future__ import annotations

STAGE_DECODE = "decode"
STAGE_ELEMENTS = "elements"
STAGE_ASSOCIATIONS = "associations"
CAPTIONS_PREFIX = "captions:"
STAGE_CAPTION = "caption"


def failure_stage(stage_key: str) -> str:
    """The Failure.stage matching an image's stage key ("captions:template" -> "caption")."""
    return STAGE_CAPTION if stage_key.startswith(CAPTIONS_PREFIX) else stage_key
