"""The assistant as a service, for clients that are not our web page.

    rag serve [--host 127.0.0.1] [--port 8000]    an OpenAI-compatible chat endpoint (`openai_api`, `chat`)
    rag mcp [--http --port 8001]                  a Model Context Protocol server (`mcp_server`, `mcp_http`)

Both answer through one `Assistant` per process (`service.Service`: readiness, a bound on answers
computed at once, answers as plain data) and apply one access rule (`access`): loopback only unless
RAG_SERVE_API_KEY is set, and then every request carries it. `run` binds and starts the HTTP servers.
This file imports nothing, so `rag serve` never loads the MCP SDK.
"""
