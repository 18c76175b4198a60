"""Scheduled messages and jobs on APScheduler 3, persisted in a SQLAlchemy job store."""
