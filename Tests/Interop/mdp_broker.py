"""An MDP/0.1 broker (RFC 7) with mmi.service (RFC 8) on one ROUTER socket.

usage: mdp_broker.py ENDPOINT HEARTBEAT_MS
Binds ENDPOINT (a wildcard port is fine), prints "READY <bound endpoint>", serves until stdin
closes. Per service it keeps a FIFO of waiting requests and of idle workers; it heartbeats every
worker each interval and forgets workers silent for five intervals.
"""

import sys
import threading
import time

import zmq

import mdp

LIVENESS = 5  # intervals of silence before a peer counts as gone, as in the Swift tests


class Worker:
    def __init__(self, identity, service, expiry):
        self.identity = identity
        self.service = service
        self.expiry = expiry


class Service:
    def __init__(self, name):
        self.name = name
        self.requests = []
        self.idle = []
        self.workers = set()


def main():
    endpoint, interval_ms = sys.argv[1], int(sys.argv[2])
    interval = interval_ms / 1000.0
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    socket.linger = 0
    socket.bind(endpoint)
    stop = threading.Event()
    mdp.exit_when_stdin_closes(stop)
    mdp.announce(socket.getsockopt_string(zmq.LAST_ENDPOINT))

    services = {}
    workers = {}

    def service_named(name):
        if name not in services:
            services[name] = Service(name)
        return services[name]

    def send_worker(identity, command, *frames):
        socket.send_multipart([identity, b"", mdp.WORKER, command, *frames])

    def forget(worker, say_disconnect):
        if say_disconnect:
            send_worker(worker.identity, mdp.DISCONNECT)
        workers.pop(worker.identity, None)
        service = worker.service
        service.workers.discard(worker.identity)
        if worker in service.idle:
            service.idle.remove(worker)

    def dispatch(service):
        while service.idle and service.requests:
            worker = service.idle.pop(0)
            client, body = service.requests.pop(0)
            send_worker(worker.identity, mdp.REQUEST, client, b"", *body)

    def on_client(sender, frames):
        if len(frames) < 1:
            return
        name, body = frames[0], frames[1:]
        if name.startswith(b"mmi."):
            if name == b"mmi.service":
                known = body and body[0] in services and services[body[0]].workers
                answer = b"200" if known else b"404"
            else:
                answer = b"501"
            socket.send_multipart([sender, b"", mdp.CLIENT, name, answer])
            return
        service = service_named(name)
        service.requests.append((sender, body))
        dispatch(service)

    def on_worker(sender, frames):
        if not frames:
            return
        command, rest = frames[0], frames[1:]
        worker = workers.get(sender)
        if worker is not None:
            worker.expiry = time.time() + LIVENESS * interval
        if command == mdp.READY:
            if worker is not None or not rest or rest[0].startswith(b"mmi."):
                if worker is not None:
                    forget(worker, True)
                else:
                    send_worker(sender, mdp.DISCONNECT)
                return
            service = service_named(rest[0])
            worker = Worker(sender, service, time.time() + LIVENESS * interval)
            workers[sender] = worker
            service.workers.add(sender)
            service.idle.append(worker)
            dispatch(service)
        elif command == mdp.REPLY:
            if worker is None or len(rest) < 2:
                send_worker(sender, mdp.DISCONNECT)
                return
            client, body = rest[0], rest[2:]
            socket.send_multipart([client, b"", mdp.CLIENT, worker.service.name, *body])
            worker.service.idle.append(worker)
            dispatch(worker.service)
        elif command == mdp.HEARTBEAT:
            if worker is None:
                send_worker(sender, mdp.DISCONNECT)
        elif command == mdp.DISCONNECT:
            if worker is not None:
                forget(worker, False)

    poller = zmq.Poller()
    poller.register(socket, zmq.POLLIN)
    next_heartbeat = time.time() + interval
    while not stop.is_set():
        if poller.poll(min(interval_ms, 50)):
            while True:
                try:
                    frames = socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if len(frames) < 3 or frames[1] != b"":
                    continue
                sender, header, rest = frames[0], frames[2], frames[3:]
                if header == mdp.CLIENT:
                    on_client(sender, rest)
                elif header == mdp.WORKER:
                    on_worker(sender, rest)
        now = time.time()
        if now >= next_heartbeat:
            for worker in list(workers.values()):
                if worker.expiry < now:
                    forget(worker, False)
                else:
                    send_worker(worker.identity, mdp.HEARTBEAT)
            next_heartbeat = now + interval
    socket.close()
    context.term()


if __name__ == "__main__":
    main()
