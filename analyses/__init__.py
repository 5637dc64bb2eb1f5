"""Analyses, one module per question; each runs on checkpoints."""
