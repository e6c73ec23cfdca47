"""Everything that speaks WeChat: OpenAPI client, tokens, keyword rules, templates, callbacks."""
