"""hotich CLI (placeholder until wired)."""
