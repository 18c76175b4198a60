"""Conversation state: per-chat and per-person state, flows and ctx.ask, on memory, SQLite or Redis."""
