"""Reusable protocols. Twisted: ``twisted.protocols``.

* :mod:`torsion.protocols.basic` -- line, netstring and length-prefixed
  string framing (``LineReceiver``, ``Int32StringReceiver``, ...), ``FileSender``.
* :mod:`torsion.protocols.policies` -- protocol wrappers: timeouts,
  throttling, connection limits, traffic logging.
* :mod:`torsion.protocols.loopback` -- connect two protocols in memory.
"""
