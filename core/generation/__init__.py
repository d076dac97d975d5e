"""Generating images: the plan, the multi-scale sampler, detail, edits, fills, text."""
