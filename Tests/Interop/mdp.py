"""MDP/0.1 (ZeroMQ RFC 7) constants shared by the interop peers in this folder.

These peers are small, independent implementations of the spec, used by the Swift BusTests to
prove that our broker, client and worker interoperate with third-party ones. The long-running
peers (broker, worker) print one line "READY <detail>" on stdout once set up, then run until
their stdin closes.
"""

import sys
import threading

CLIENT = b"MDPC01"
WORKER = b"MDPW01"

READY = b"\x01"
REQUEST = b"\x02"
REPLY = b"\x03"
HEARTBEAT = b"\x04"
DISCONNECT = b"\x05"


def announce(detail):
    """Tell the parent process that the peer is set up."""
    print("READY " + detail, flush=True)


def exit_when_stdin_closes(stop_event):
    """The parent ends a peer by closing its stdin; a thread turns that into stop_event."""

    def watch():
        try:
            while sys.stdin.buffer.read(1024):
                pass
        finally:
            stop_event.set()

    threading.Thread(target=watch, daemon=True).start()
