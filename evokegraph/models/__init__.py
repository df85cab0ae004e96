"""The shared model layer, below the stages and importing none of them.

``chat`` (the ChatEngine protocol, ``load_engine``) with its adapters in
``engines``; ``clip`` (open_clip weights, ``load_open_clip``, ``ClipScorer``);
``text_encoder`` (the sentence encoder); ``presets`` (``--preset`` engine options).
"""
