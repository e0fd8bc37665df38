"""The organisation's Anthropic spend: admin key, transport, report, cache, service, budget."""
