"""A CURVE client that connects to a broker under another peer's routing id and only listens:
what a process would receive if it could take over that peer's connection.

usage: hijack.py ENDPOINT ROUTING_ID PUBLIC_KEY SECRET_KEY SERVER_KEY
Prints "READY <routing id>" once connected, "GOT <command>" for each message it receives (the
MDP command frame in hex), and stops when stdin closes.
"""

import sys
import threading

import zmq

import mdp


def main():
    endpoint, routing_id, public, secret, server = sys.argv[1:6]
    context = zmq.Context()
    stop = threading.Event()
    mdp.exit_when_stdin_closes(stop)
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    socket.curve_publickey = public.encode()
    socket.curve_secretkey = secret.encode()
    socket.curve_serverkey = server.encode()
    socket.setsockopt(zmq.ROUTING_ID, routing_id.encode())
    socket.connect(endpoint)
    mdp.announce(routing_id)
    poller = zmq.Poller()
    poller.register(socket, zmq.POLLIN)
    while not stop.is_set():
        if dict(poller.poll(50)).get(socket):
            frames = socket.recv_multipart()
            command = frames[2].hex() if len(frames) > 2 else "-"
            print("GOT " + command, flush=True)
    socket.close()
    context.term()


if __name__ == "__main__":
    main()
