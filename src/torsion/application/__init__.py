"""Services: long-running parts of an application, started and stopped together.

Twisted: ``twisted.application``.  torsion has the service hierarchy
(:mod:`torsion.application.service`), the network services
(:mod:`torsion.application.internet`, including ``ClientService``) and
:mod:`torsion.application.strports`; not twistd or ``.tac`` files.
"""
