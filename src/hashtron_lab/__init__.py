"""hashtron_lab: hashtron networks trained backward with a sum cache and capacity control."""
