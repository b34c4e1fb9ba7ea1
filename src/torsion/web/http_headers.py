"""Twisted's ``twisted.web.http_headers``: the :class:`Headers` class."""

from torsion.web._headers import Headers

__all__ = ["Headers"]
