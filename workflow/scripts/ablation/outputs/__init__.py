"""What a run writes and where: output paths, atomic records, conditions, provenance, logs, progress, disk space."""
