"""The HTTP face of the hub: API, (later) console, /healthz and /metrics."""
