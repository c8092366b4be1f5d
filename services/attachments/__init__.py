"""Attachments (附件): photos and files on a request, a note, a reply or a resolution, in object storage."""
