"""Many districts at once: input rows, a process pool, documents on disk, a manifest to resume."""
