"""What the lab's scripted SMTP servers (mitm_proxy.py, hostile_smtp.py, outbox_smtp.py)
share: a JSON-lines log with one file per client address, a session's socket, reader and
records, and a listener that hands every accepted connection, with the client's address,
to a handler on its own thread."""

import argparse
import json
import socket
import threading
import time
from pathlib import Path


class ClientLog:
    """One JSON-lines file per client address; every record is flushed at once."""

    def __init__(self, log_dir):
        self.dir = Path(log_dir)
        self.lock = threading.Lock()

    def write(self, client, **record):
        record["t"] = round(time.time(), 3)
        with self.lock, open(self.dir / f"{client}.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")


class Session:
    """One client's connection: its socket, a line reader over it, and its records in the log."""

    def __init__(self, sock, client, log):
        self.sock, self.client, self.log = sock, client, log
        self.reader = sock.makefile("rb")

    def note(self, **record):
        self.log.write(self.client, **record)

    def close(self):
        # The socket's descriptor closes only once its reader is closed too.
        for f in (self.reader, self.sock):
            try:
                f.close()
            except OSError:
                pass

    def send(self, data):
        self.sock.sendall(data)


def arguments(doc, config_help):
    """The command line both servers take (--listen, --port, --config, --log-dir); the caller
    adds its own options and parses."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--listen", required=True, help="IPv4 address to listen on")
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--config", required=True, help=config_help)
    ap.add_argument("--log-dir", required=True)
    return ap


def listen(address, port):
    """A TCP socket listening on address:port."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, port))
    server.listen(64)
    return server


def serve_forever(server, handle):
    """Accepts connections forever; handle(sock, client_address, number) runs on a daemon
    thread per connection, numbered from 1 in the order they were accepted."""
    number = 0
    while True:
        sock, (client, _) = server.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        number += 1
        threading.Thread(target=handle, args=(sock, client, number), daemon=True).start()


def serve_sessions(name, args, config, open_session):
    """Listens on args.listen:args.port (saying so on stdout as `name`) and serves every
    client by its address: config[address], else config["*"], names its behaviour; a client
    with neither is refused (logged under "unknown"). open_session(sock, client, behaviour,
    log) makes the client's Session; its run() is called, an error in it logged, and it is
    closed whatever happens, with "connect", "error" and "closed" records around it."""
    log = ClientLog(args.log_dir)
    server = listen(args.listen, args.port)
    print(f"{name}: listening {args.listen}:{args.port}, {len(config)} clients", flush=True)

    def serve(sock, client, _number):
        behaviour = config.get(client, config.get("*"))
        if behaviour is None:
            log.write("unknown", event="refused", client=client)
            sock.close()
            return
        session = open_session(sock, client, behaviour, log)
        session.note(event="connect", behaviour=behaviour)
        try:
            session.run()
        except (OSError, ValueError) as e:
            session.note(event="error", error=str(e)[:200])
        finally:
            session.close()
        session.note(event="closed")

    serve_forever(server, serve)
