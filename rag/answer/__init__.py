"""Answering: a retrieved question turned into a cited `Answer`.

| module | what |
|---|---|
| `base` | the `Question` every answerer takes, the `Answerer` interface, `AnswerStream` |
| `conversation` | follow-ups resolved against the conversation, offline |
| `extractive` | the offline answerer: quotes the sentences that answer, or refuses |
| `generative` | the LLM answerer, with follow-up condensation |
| `llm_client` | the OpenAI-compatible client: streaming, retries, timeouts, clear errors |
| `prompts` | prompt templates from `prompts/`; sources and question framed as data |
| `citations` | markers renumbered and outside links removed, while streaming and after |
| `support` | each generated claim scored against the text it cites |
"""
