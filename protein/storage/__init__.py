"""Where a study's trials live: in memory, SQLite (default) or PostgreSQL."""
