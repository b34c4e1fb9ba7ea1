"""torsion: Twisted's programming model on asyncio and uvloop."""

__version__ = "0.1.0"
