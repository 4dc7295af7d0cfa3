"""The web chat (Gradio), thin over `rag.Assistant`: `ui.app.serve()` is what `rag ui` runs."""
