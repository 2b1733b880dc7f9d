"""The multi-group family: one measurement model, structural paths partially pooled across groups."""
