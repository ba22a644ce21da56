"""What the auction's hot path reads instead of the database: an in-memory snapshot of the
servable ad groups, shared counters, and a background writer for its logs."""
