"""The web chat (Gradio), thin over `rag.Assistant`: `ui.app.serve()` is what `rag ui` runs.

    access.py    who may connect: the login policy
    handlers.py  what each event does (chat, /ask, papers, upload, filters, corpus map), over an Assistant
    layout.py    the page: Gradio components and which event triggers which handler
    render.py    all the HTML, every corpus and user text escaped
    assets.py    the stylesheet and the script
    app.py       start-up: launch() and serve()
"""

import os

# Gradio reads these when imported, and any ui module may be the first one imported: no usage analytics,
# and no Hugging Face Hub lookups on a machine that may be offline.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
