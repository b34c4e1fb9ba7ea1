"""Twisted's ``twisted.python`` helpers: Failure, log, thread pool."""
