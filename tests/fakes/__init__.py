"""Loopback servers that speak the real wire format of what cannot run here (GitHub,
Jaeger, Elasticsearch, the Anthropic API), each checked against its upstream definition."""
