"""An MDP/0.1 worker (RFC 7) on a DEALER socket, with heartbeats and reconnects.

usage: mdp_worker.py ENDPOINT SERVICE TAG HEARTBEAT_MS
Replies to each request with [TAG, request body...]. Prints "READY <service>" after its first
READY, reconnects (new socket, READY again) after five silent intervals or a DISCONNECT, and
says DISCONNECT when stdin closes.
"""

import sys
import threading
import time

import zmq

import mdp

LIVENESS = 5  # intervals of silence before a peer counts as gone, as in the Swift tests


def main():
    endpoint, service, tag, interval_ms = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode(), int(sys.argv[4])
    interval = interval_ms / 1000.0
    context = zmq.Context()
    stop = threading.Event()
    mdp.exit_when_stdin_closes(stop)

    def connect():
        socket = context.socket(zmq.DEALER)
        socket.linger = 0
        socket.connect(endpoint)
        socket.send_multipart([b"", mdp.WORKER, mdp.READY, service])
        return socket

    socket = connect()
    mdp.announce(service.decode())
    poller = zmq.Poller()
    poller.register(socket, zmq.POLLIN)
    heard = time.time()
    next_heartbeat = time.time() + interval
    while not stop.is_set():
        if poller.poll(min(interval_ms, 50)):
            frames = socket.recv_multipart()
            heard = time.time()
            if len(frames) < 3 or frames[0] != b"" or frames[1] != mdp.WORKER:
                continue
            command = frames[2]
            if command == mdp.REQUEST and len(frames) >= 5:
                client, body = frames[3], frames[5:]
                socket.send_multipart([b"", mdp.WORKER, mdp.REPLY, client, b"", tag, *body])
            elif command == mdp.DISCONNECT:
                poller.unregister(socket)
                socket.close()
                socket = connect()
                poller.register(socket, zmq.POLLIN)
        now = time.time()
        if now - heard > LIVENESS * interval:
            poller.unregister(socket)
            socket.close()
            socket = connect()
            poller.register(socket, zmq.POLLIN)
            heard = now
        if now >= next_heartbeat:
            socket.send_multipart([b"", mdp.WORKER, mdp.HEARTBEAT])
            next_heartbeat = now + interval
    socket.send_multipart([b"", mdp.WORKER, mdp.DISCONNECT])
    socket.close(linger=200)
    context.term()


if __name__ == "__main__":
    main()
