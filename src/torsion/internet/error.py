"""Exceptions used as connection-loss reasons and for API misuse.

The class names, base classes and ``str()`` forms match Twisted's
``twisted.internet.error`` so that code which checks ``reason.check(...)`` or
prints a reason behaves the same.  Each class carries a ``MESSAGE`` that
``str()`` extends with the constructor arguments.
"""

from __future__ import annotations

import errno
import socket

__all__ = [
    "AlreadyCalled",
    "AlreadyCancelled",
    "AlreadyListened",
    "BadFileError",
    "BindError",
    "CannotListenError",
    "CertificateError",
    "ConnectBindError",
    "ConnectError",
    "ConnectInProgressError",
    "ConnectingCancelledError",
    "ConnectionAborted",
    "ConnectionClosed",
    "ConnectionDone",
    "ConnectionFdescWentAway",
    "ConnectionLost",
    "ConnectionRefusedError",
    "DNSLookupError",
    "FileDescriptorOverrun",
    "InvalidAddressError",
    "MessageLengthError",
    "MulticastJoinError",
    "NoProtocol",
    "NoRouteError",
    "NotConnectingError",
    "NotListeningError",
    "ProcessDone",
    "ProcessExitedAlready",
    "ProcessTerminated",
    "ReactorAlreadyInstalledError",
    "ReactorAlreadyRunning",
    "ReactorNotRestartable",
    "ReactorNotRunning",
    "SSLError",
    "ServiceNameUnknownError",
    "TCPTimedOutError",
    "TimeoutError",
    "UnknownHostError",
    "UnsupportedAddressFamily",
    "UnsupportedSocketType",
    "UserError",
    "VerifyError",
    "getConnectError",
]


def _withArgs(message: str, args: tuple[object, ...]) -> str:
    """Render ``MESSAGE: arg arg.`` the way every error here prints itself."""
    if args:
        message = "{}: {}".format(message, " ".join(str(a) for a in args))
    return message + "."


class _MessageError(Exception):
    MESSAGE = ""

    def __str__(self) -> str:
        return _withArgs(self.MESSAGE, self.args)


class BindError(_MessageError):
    """Binding to an interface failed."""

    MESSAGE = "An error occurred binding to an interface"


class CannotListenError(BindError):
    """``listenTCP`` and friends could not open the listening socket.

    Twisted: ``twisted.internet.error.CannotListenError``.

    Attributes:
        interface: the interface that was asked for ('' means all).
        port: the port that was asked for.
        socketError: the ``OSError`` the bind or listen raised.
    """

    def __init__(self, interface: str, port: object, socketError: BaseException) -> None:
        super().__init__(interface, port, socketError)
        self.interface = interface
        self.port = port
        self.socketError = socketError

    def __str__(self) -> str:
        return f"Couldn't listen on {self.interface or 'any'}:{self.port}: {self.socketError}."


class MulticastJoinError(Exception):
    """Joining a multicast group failed."""


class MessageLengthError(_MessageError):
    """A datagram was too long to send."""

    MESSAGE = "Message is too long to send"


class DNSLookupError(OSError):
    """A host name could not be resolved.

    Twisted: ``twisted.internet.error.DNSLookupError`` (an ``IOError``).
    """

    MESSAGE = "DNS lookup failed"

    def __str__(self) -> str:
        return _withArgs(self.MESSAGE, self.args)


class ConnectInProgressError(Exception):
    """A connect operation was started and has not finished."""


class ConnectError(Exception):
    """Base class of every outgoing-connection failure.

    Twisted: ``twisted.internet.error.ConnectError``.

    Args:
        osError: the underlying error number or exception, if any.
        string: a human readable explanation.
    """

    MESSAGE = "An error occurred while connecting"

    def __init__(self, osError: object = None, string: object = "") -> None:
        self.osError = osError
        super().__init__(string)

    def __str__(self) -> str:
        text = self.MESSAGE
        if self.osError:
            text = f"{text}: {self.osError}"
        if self.args[0]:
            text = f"{text}: {self.args[0]}"
        return text + "."


class ConnectBindError(ConnectError):
    """Binding the local address of an outgoing connection failed."""

    MESSAGE = "Couldn't bind"


class UnknownHostError(ConnectError):
    """The host name of an outgoing connection could not be looked up."""

    MESSAGE = "Hostname couldn't be looked up"


class NoRouteError(ConnectError):
    """ENETUNREACH / EHOSTUNREACH."""

    MESSAGE = "No route to host"


class ConnectionRefusedError(ConnectError):
    """ECONNREFUSED: nothing listens on the destination port."""

    MESSAGE = "Connection was refused by other side"


class TCPTimedOutError(ConnectError):
    """ETIMEDOUT from the kernel."""

    MESSAGE = "TCP connection timed out"


class BadFileError(ConnectError):
    """The file used for a UNIX socket is not usable."""

    MESSAGE = "File used for UNIX socket is no good"


class ServiceNameUnknownError(ConnectError):
    """A service name given as a port is unknown."""

    MESSAGE = "Service name given as port is unknown"


class UserError(ConnectError):
    """The connection attempt was stopped by ``Connector.stopConnecting``."""

    MESSAGE = "User aborted connection"


class TimeoutError(UserError):
    """The connector's own timeout expired before the connection was made."""

    MESSAGE = "User timeout caused connection failure"


class SSLError(ConnectError):
    """A TLS error happened while connecting."""

    MESSAGE = "An SSL error occurred"


class VerifyError(_MessageError):
    """Something that had to be signed could not be verified."""

    MESSAGE = "Could not verify something that was supposed to be signed."

    def __str__(self) -> str:
        return self.MESSAGE if not self.args else _withArgs(self.MESSAGE, self.args)


class PeerVerifyError(VerifyError):
    """The peer rejected our verification."""

    MESSAGE = "The peer rejected our verify error."


class CertificateError(Exception):
    """A certificate was expected and not found."""

    MESSAGE = "We did not find a certificate where we expected to find one."


_ERRNO_TO_CONNECT_ERROR: dict[int, type[ConnectError]] = {
    errno.ENETUNREACH: NoRouteError,
    errno.EHOSTUNREACH: NoRouteError,
    errno.ECONNREFUSED: ConnectionRefusedError,
    errno.ETIMEDOUT: TCPTimedOutError,
}


def getConnectError(e: BaseException | tuple[int, str]) -> ConnectError:
    """Map a socket-level exception to the matching :class:`ConnectError`.

    Twisted: ``twisted.internet.error.getConnectError``.
    """
    args = e.args if isinstance(e, BaseException) else e
    try:
        number, text = args
    except ValueError:
        return ConnectError(string=e)
    if isinstance(e, socket.gaierror):
        return UnknownHostError(number, text)
    return _ERRNO_TO_CONNECT_ERROR.get(number, ConnectError)(number, text)


class ConnectionClosed(Exception):
    """The connection was closed, cleanly or not."""


class ConnectionLost(ConnectionClosed):
    """The connection was lost in a non-clean fashion.

    Twisted: ``twisted.internet.error.ConnectionLost``.
    """

    MESSAGE = "Connection to the other side was lost in a non-clean fashion"

    def __str__(self) -> str:
        return _withArgs(self.MESSAGE, self.args)


class ConnectionAborted(ConnectionLost):
    """The connection was aborted locally with ``abortConnection()``."""

    MESSAGE = "Connection was aborted locally using ITCPTransport.abortConnection"


class ConnectionDone(ConnectionClosed):
    """The connection was closed cleanly.

    Twisted: ``twisted.internet.error.ConnectionDone``.
    """

    MESSAGE = "Connection was closed cleanly"

    def __str__(self) -> str:
        return _withArgs(self.MESSAGE, self.args)


class FileDescriptorOverrun(ConnectionLost):
    """More file descriptors arrived than the receiver could handle."""

    MESSAGE = "A mis-use of IUNIXTransport.sendFileDescriptor caused the connection to be closed"


class ConnectionFdescWentAway(ConnectionLost):
    """The file descriptor behind the connection disappeared."""

    MESSAGE = "Uh"


class AlreadyCalled(ValueError):
    """A delayed call was used after it ran."""

    MESSAGE = "Tried to cancel an already-called event"

    def __str__(self) -> str:
        return _withArgs(self.MESSAGE, self.args)


class AlreadyCancelled(ValueError):
    """A delayed call was used after it was cancelled."""

    MESSAGE = "Tried to cancel an already-cancelled event"

    def __str__(self) -> str:
        return _withArgs(self.MESSAGE, self.args)


class ProcessDone(ConnectionDone):
    """A child process ended with exit code 0."""

    MESSAGE = "A process has ended without apparent errors"

    def __init__(self, status: int) -> None:
        Exception.__init__(self, "process finished with exit code 0")
        self.exitCode = 0
        self.signal: int | None = None
        self.status = status


class ProcessTerminated(ConnectionLost):
    """A child process ended with a non-zero exit code or a signal.

    Args:
        exitCode: the exit code, or None when a signal ended the process.
        signal: the signal number, or None.
        status: the raw wait status.
    """

    MESSAGE = "A process has ended with a probable error condition"

    def __init__(
        self, exitCode: int | None = None, signal: int | None = None, status: int | None = None
    ) -> None:
        self.exitCode = exitCode
        self.signal = signal
        self.status = status
        text = "process ended"
        if exitCode is not None:
            text += f" with exit code {exitCode}"
        if signal is not None:
            text += f" by signal {signal}"
        Exception.__init__(self, text)


class ProcessExitedAlready(Exception):
    """The process has exited; the requested operation is no longer possible."""


class NotConnectingError(RuntimeError):
    """``stopConnecting`` was called on a connector that is not connecting."""

    MESSAGE = "The Connector was not connecting when it was asked to stop connecting"

    def __str__(self) -> str:
        return _withArgs(self.MESSAGE, self.args)


class NotListeningError(RuntimeError):
    """``stopListening`` was called on a port that is not listening."""

    MESSAGE = "The Port was not listening when it was asked to stop listening"

    def __str__(self) -> str:
        return _withArgs(self.MESSAGE, self.args)


class ReactorNotRunning(RuntimeError):
    """``stop()`` was called on a reactor that is not running."""


class ReactorNotRestartable(RuntimeError):
    """``run()`` was called on a reactor that already stopped."""


class ReactorAlreadyRunning(RuntimeError):
    """``run()`` was called on a reactor that is running."""


class ReactorAlreadyInstalledError(AssertionError):
    """A second reactor was installed as the global reactor."""


class ConnectingCancelledError(Exception):
    """An endpoint ``connect()`` Deferred was cancelled before it connected.

    Attributes:
        address: the address that was being connected to.
    """

    def __init__(self, address: object) -> None:
        super().__init__(address)
        self.address = address


class NoProtocol(Exception):
    """The factory's ``buildProtocol`` returned None for an endpoint connection."""


class UnsupportedAddressFamily(Exception):
    """The address family is not supported by this operation."""


class UnsupportedSocketType(Exception):
    """The socket type is not supported by this operation."""


class AlreadyListened(Exception):
    """The socket was already put into listening mode."""


class InvalidAddressError(ValueError):
    """An address is not valid for the operation.

    Args:
        address: the offending address.
        message: why it is invalid.
    """

    def __init__(self, address: object, message: str) -> None:
        super().__init__(address, message)
        self.address = address
        self.message = message
