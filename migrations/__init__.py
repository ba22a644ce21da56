"""Alembic migrations: the schema of record. Shipped as a package so installs can migrate."""
