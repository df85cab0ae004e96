"""Model backends: engines (transformers, vLLM, OpenAI-compatible), VLM extractor, LLM miner."""
