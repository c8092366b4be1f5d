"""Attachment tables (issue 16): see services/attachments."""
