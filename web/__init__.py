"""The web app: login (auth), HTML views (render), shared services, the JSON API (api), and
the Gradio page (ui).

Only ``web.ui`` imports Gradio.
"""

SERVE_SETTINGS = (
    "index_dir",
    "archive_dir",
    "store",
    "llm",
    "host",
    "port",
    "auth_file",
    "clearance",
    "ssl_certfile",
    "ssl_keyfile",
)
"""The settings ``quorum serve`` and ``python app.py`` take as flags."""
