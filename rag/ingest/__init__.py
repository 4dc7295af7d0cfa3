"""Ingest: corpus records into the index, idempotent and resumable (`indexer`), with room on the disk
checked before every write (`disk`) and the encode's freed memory handed back at the end (`memory`)."""
