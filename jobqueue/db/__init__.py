"""Database backends of the service (Django's, with what the job queue needs added)."""
