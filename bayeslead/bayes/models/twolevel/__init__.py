"""The two-level family: respondents in clusters, with ordinal and third-level add-ons."""
