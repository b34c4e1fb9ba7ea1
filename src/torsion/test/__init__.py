"""Helpers for testing protocols. Twisted: ``twisted.test`` (its public helpers)."""
