"""An MDP/0.1 client (RFC 7), on a REQ socket (one request at a time, retried on a fresh socket
after a timeout) or a DEALER socket (all requests outstanding at once, matched by their body).

usage: mdp_client.py req|dealer ENDPOINT SERVICE COUNT [TIMEOUT_MS]
Sends COUNT requests with body ["request <i>"]; prints "REPLY <i> <frame>|<frame>..." for each
reply, and exits 0 if every request was answered, 1 otherwise. SERVICE may be mmi.service; the
body is then the name given as COUNT, and one request is sent.
"""

import sys
import time

import zmq

import mdp


def req_client(context, endpoint, service, bodies, timeout_ms):
    replies = {}
    for index, body in enumerate(bodies):
        for _attempt in range(3):
            socket = context.socket(zmq.REQ)
            socket.linger = 0
            socket.connect(endpoint)
            socket.send_multipart([mdp.CLIENT, service, *body])
            if socket.poll(timeout_ms, zmq.POLLIN):
                frames = socket.recv_multipart()
                socket.close()
                if len(frames) >= 2 and frames[0] == mdp.CLIENT and frames[1] == service:
                    replies[index] = frames[2:]
                break
            socket.close()
    return replies


def dealer_client(context, endpoint, service, bodies, timeout_ms):
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    socket.connect(endpoint)
    for body in bodies:
        socket.send_multipart([b"", mdp.CLIENT, service, *body])
    replies = {}
    deadline = time.time() + timeout_ms / 1000.0
    while len(replies) < len(bodies) and time.time() < deadline:
        if socket.poll(50, zmq.POLLIN):
            frames = socket.recv_multipart()
            if len(frames) >= 3 and frames[0] == b"" and frames[1] == mdp.CLIENT and frames[2] == service:
                body = frames[3:]
                index = next((i for i, sent in enumerate(bodies) if sent[0] in body and i not in replies), None)
                if index is not None:
                    replies[index] = body
    socket.close()
    return replies


def main():
    kind, endpoint, service = sys.argv[1], sys.argv[2], sys.argv[3].encode()
    timeout_ms = int(sys.argv[5]) if len(sys.argv) > 5 else 3000
    if service.startswith(b"mmi."):
        bodies = [[sys.argv[4].encode()]]
    else:
        bodies = [[("request %d" % i).encode()] for i in range(int(sys.argv[4]))]
    context = zmq.Context()
    run = req_client if kind == "req" else dealer_client
    replies = run(context, endpoint, service, bodies, timeout_ms)
    for index in sorted(replies):
        print("REPLY %d %s" % (index, "|".join(frame.decode() for frame in replies[index])), flush=True)
    context.term()
    sys.exit(0 if len(replies) == len(bodies) else 1)


if __name__ == "__main__":
    main()
