"""The store's schema migrations, run by `Store.start` (or the alembic command line)."""
