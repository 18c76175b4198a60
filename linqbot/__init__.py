"""linqbot: build iMessage, RCS and SMS bots on the Linq Partner API v3."""
