"""The `bayeslead` command line (typer): `app` holds the top-level commands and the entry point,
`inputs` the instrument and data groups, `study` the simulation-study group. It only parses
arguments, calls the library and prints."""
