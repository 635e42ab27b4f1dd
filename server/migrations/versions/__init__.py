"""One module per schema revision, in order; alembic reads them, nothing imports them."""
