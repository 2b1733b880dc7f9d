"""The engine-agnostic SEM core: model spec, parameter table, effects, normal likelihood of
moments and the ML solver. Both engines import it; it imports neither."""
