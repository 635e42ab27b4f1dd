"""Tests of the server: the adapter around the core, against real SQLite, PostgreSQL and Redis."""
