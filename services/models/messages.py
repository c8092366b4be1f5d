"""Citizen message tables (issue 16): see services/messages."""
