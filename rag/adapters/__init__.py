"""Adapters: our components behind other libraries' interfaces (LlamaIndex)."""
