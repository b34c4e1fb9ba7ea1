"""Twisted's ``twisted.internet`` for asyncio: reactor, protocols, Deferreds.

Importing this package has no side effects; the global reactor is created on
first import of :mod:`torsion.internet.reactor`.
"""
