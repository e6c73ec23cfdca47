"""Everything that speaks WeChat: the OpenAPI client, tokens, keyword rules, templates, callbacks."""
