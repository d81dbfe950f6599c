"""From runs to the report: aggregation, statistics, the claims, tables, figures and rendering."""
