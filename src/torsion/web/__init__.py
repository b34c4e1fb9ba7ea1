"""Twisted's twisted.web: the HTTP server core and the HTTP proxy."""
