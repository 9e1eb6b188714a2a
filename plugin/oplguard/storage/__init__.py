"""The SQL layer shared by tracking, removals and the web service: SQLite or PostgreSQL."""
