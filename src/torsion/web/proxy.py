"""The HTTP proxy (in progress; see the HTTP proxy issue)."""
