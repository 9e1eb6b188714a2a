"""Run-time observability: per-component log levels, tracing, JSON logs and metrics."""
