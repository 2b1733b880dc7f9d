"""The single-level family: one-level models of continuous or ordinal items."""
