"""Outreach campaigns: recipients, template, sending window and pacing, resumable and gated."""
