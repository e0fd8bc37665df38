"""Running workflows: the registry, the scope, the runner, one process, live SSE frames."""
