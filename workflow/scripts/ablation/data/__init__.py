"""The data stage: sources and their pinned sums, the IDX format, the seeded splits."""
