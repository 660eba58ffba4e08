"""Persistence: the schema, migrations and the queries the rest of the hub uses."""
