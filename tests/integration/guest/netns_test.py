#!/usr/bin/env python3
"""Guest network plumbing, tested on the host in a network namespace.

    netns_test.py CAPSEM-INIT CAPSEM-RELAY CAPSEM-DNS

Creates a network namespace (unique name, always deleted) with a veth pair
(the host kernel has no dummy netdev), lets `capsem-init --setup-net` give it
the guest's address, default route and redirect/reject rules, and runs
capsem-relay and capsem-dns there with unix-socket upstreams served by this
script. Clients in the namespace then check what a guest program depends on:
TCP to any address on 443/80 arrives at the upstream behind the right
"CAPSEM/1 <ip> <port>" header line, bytes flow both ways with half-close,
10 MB arrive intact, an upstream reset reaches the client, DNS over UDP and
TCP arrives length-prefixed and the answers come back, and anything else
(tcp/22, udp/123) is rejected.

Needs root, iproute2 and nftables (or iptables). Exit 77 (skip) without them.
"""
import errno
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 30


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


# ----------------------------------------------------------------- outside --

def outside(init, relay, dns):
    if os.geteuid() != 0:
        skip("needs root for ip netns")
    if shutil.which("ip") is None:
        skip("needs iproute2")
    if shutil.which("nft") is None and shutil.which("iptables-nft") is None:
        skip("needs nftables or iptables")
    ns = f"capsem-guest-{os.getpid()}"
    try:
        r = subprocess.run(["ip", "netns", "add", ns])
        if r.returncode != 0:
            skip("cannot create a network namespace")
        subprocess.run(["ip", "-n", ns, "link", "add", "capv0", "type", "veth",
                        "peer", "name", "capv1"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "capv1", "up"], check=True)
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                            os.path.abspath(__file__), "--inside", init, relay, dns])
        return r.returncode
    finally:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


# ------------------------------------------------------------------ inside --

def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def recv_line(sock, limit=128):
    buf = b""
    while not buf.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            raise EOFError("EOF in header line")
        buf += c
        if len(buf) > limit:
            raise ValueError("header line too long")
    return buf


class StreamUpstream:
    """Unix listener standing in for netproxy's vsock 1443/1080 side.

    Each connection: read the header line, record it, then
      - destination 203.0.113.99: reset the connection once data arrived;
      - otherwise echo every byte until EOF (hashing what arrived), then
        send b"BYE\\n" and close (so the client sees our answer after its own
        half-close).
    """

    def __init__(self, path):
        self.path = path
        self.headers = []
        self.digests = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn:
            conn.settimeout(TIMEOUT)
            header = recv_line(conn)
            with self.lock:
                self.headers.append(header)
            if header.startswith(b"CAPSEM/1 203.0.113.99 "):
                # Close with the client's byte unread: the relay's read of a
                # unix socket then fails with ECONNRESET (as a vsock RST does).
                conn.recv(1, socket.MSG_PEEK)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                return
            h = hashlib.sha256()
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                h.update(data)
                conn.sendall(data)
            with self.lock:
                self.digests.append(h.hexdigest())
            conn.sendall(b"BYE\n")


class DnsUpstream:
    """Unix listener standing in for netproxy's vsock 1053 side: reads framed
    queries, records them, answers each with the query with QR set plus the
    4 bytes b"ANSW" (enough to tell an answer from an echo)."""

    def __init__(self, path):
        self.path = path
        self.queries = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    @staticmethod
    def answer(query):
        return query[:2] + bytes([query[2] | 0x80]) + query[3:] + b"ANSW"

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn:
            conn.settimeout(TIMEOUT)
            while True:
                try:
                    prefix = recv_exact(conn, 2)
                except EOFError:
                    return
                (n,) = struct.unpack("!H", prefix)
                query = recv_exact(conn, n)
                with self.lock:
                    self.queries.append(query)
                a = self.answer(query)
                conn.sendall(struct.pack("!H", len(a)) + a)


def dns_query(qid, name):
    """A real DNS query message (RFC 1035): header + one question, type A."""
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + qname + struct.pack("!HH", 1, 1)


def wait_listening(port, kind=socket.SOCK_STREAM):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Tests:
    def __init__(self, https, http, dnsup):
        self.https = https
        self.http = http
        self.dnsup = dnsup
        self.n = 0
        self.failed = 0

    def run(self, name, fn):
        self.n += 1
        try:
            fn()
            print(f"ok {self.n} - {name}", flush=True)
        except Exception as e:  # report and go on with the next check
            self.failed += 1
            print(f"not ok {self.n} - {name}: {type(e).__name__}: {e}", flush=True)

    def connect(self, ip, port):
        s = socket.create_connection((ip, port), timeout=TIMEOUT)
        return s

    def header_seen(self, upstream, line):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with upstream.lock:
                if line in upstream.headers:
                    return
            time.sleep(0.02)
        raise AssertionError(f"{line!r} not among {upstream.headers!r}")

    def t_https_header_and_half_close(self):
        with self.connect("203.0.113.7", 443) as s:
            s.sendall(b"hello through the relay")
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += d
        assert got == b"hello through the relay" + b"BYE\n", got
        self.header_seen(self.https, b"CAPSEM/1 203.0.113.7 443\n")

    def t_http_header(self):
        with self.connect("198.51.100.20", 80) as s:
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += d
        assert got == b"GET / HTTP/1.1\r\n\r\nBYE\n", got
        self.header_seen(self.http, b"CAPSEM/1 198.51.100.20 80\n")

    def t_10mb_intact(self):
        payload = os.urandom(10 * 1024 * 1024)
        want = hashlib.sha256(payload).hexdigest()
        with self.connect("203.0.113.8", 443) as s:
            def send():
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            t = threading.Thread(target=send)
            t.start()
            h = hashlib.sha256()
            tail = b""
            total = 0
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                total += len(d)
                buf = tail + d
                # keep the last 4 bytes back: they may be the BYE line
                h.update(buf[:-4])
                tail = buf[-4:]
            t.join()
        assert tail == b"BYE\n", tail
        assert total == len(payload) + 4, total
        assert h.hexdigest() == want, "echoed bytes differ"
        with self.https.lock:
            assert want in self.https.digests, "upstream received different bytes"

    def t_upstream_reset_reaches_client(self):
        with self.connect("203.0.113.99", 443) as s:
            s.sendall(b"x")
            try:
                d = s.recv(100)
            except ConnectionResetError:
                return
            raise AssertionError(f"expected a reset, got {d!r}")

    def t_direct_relay_connection_refused(self):
        with self.connect("127.0.0.1", 10443) as s:
            d = s.recv(100)
            assert d == b"", d
        with self.https.lock:
            assert not any(b"127.0.0.1 10443" in h for h in self.https.headers)

    def t_ssh_rejected(self):
        try:
            socket.create_connection(("203.0.113.7", 22), timeout=TIMEOUT).close()
        except ConnectionRefusedError:
            return
        raise AssertionError("tcp/22 was not rejected")

    def t_udp_other_port_rejected(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(TIMEOUT)
            s.connect(("203.0.113.7", 123))
            try:
                s.send(b"x" * 48)
                s.recv(100)
            except ConnectionRefusedError:
                return
            except OSError as e:
                if e.errno in (errno.EPERM, errno.ECONNREFUSED):
                    return
                raise
        raise AssertionError("udp/123 was not rejected")

    def t_dns_udp(self):
        for qid, dst in ((0x1234, "127.0.0.1"), (0x4321, "203.0.113.53")):
            q = dns_query(qid, "api.example.test")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(TIMEOUT)
                s.sendto(q, (dst, 53))
                a, src = s.recvfrom(65535)
            assert a == DnsUpstream.answer(q), a
            assert src == (dst, 53), src
            with self.dnsup.lock:
                assert q in self.dnsup.queries, "query did not arrive framed"

    def t_dns_tcp(self):
        q1 = dns_query(0x1111, "one.example.test")
        q2 = dns_query(0x2222, "two.example.test")
        with self.connect("203.0.113.53", 53) as s:
            s.sendall(struct.pack("!H", len(q1)) + q1 + struct.pack("!H", len(q2)) + q2)
            s.shutdown(socket.SHUT_WR)
            answers = []
            for _ in range(2):
                (n,) = struct.unpack("!H", recv_exact(s, 2))
                answers.append(recv_exact(s, n))
            assert s.recv(10) == b"", "data after the answers"
        assert answers == [DnsUpstream.answer(q1), DnsUpstream.answer(q2)], answers

    def t_dns_runt_dropped(self):
        # Shorter than a DNS header: never forwarded.
        before = len(self.dnsup.queries)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1)
            s.sendto(b"short", ("127.0.0.1", 53))
            try:
                s.recvfrom(100)
                raise AssertionError("answer to a runt datagram")
            except socket.timeout:
                pass
        assert len(self.dnsup.queries) == before


def inside(init, relay, dns):
    r = subprocess.run([init, "--setup-net", "capv0"])
    if r.returncode != 0:
        print("not ok 1 - capsem-init --setup-net failed")
        return 1
    print("ok 0 - capsem-init --setup-net capv0 (address, route, rules)", flush=True)
    tmp = tempfile.mkdtemp(prefix="capsem-guest-")
    procs = []
    try:
        https = StreamUpstream(os.path.join(tmp, "https.sock"))
        http = StreamUpstream(os.path.join(tmp, "http.sock"))
        dnsup = DnsUpstream(os.path.join(tmp, "dns.sock"))
        procs.append(subprocess.Popen([relay,
                                       "-l", f"127.0.0.1:10443=unix:{https.path}",
                                       "-l", f"127.0.0.1:10080=unix:{http.path}"]))
        procs.append(subprocess.Popen([dns, "-u", f"unix:{dnsup.path}"]))
        wait_listening(1053)
        t = Tests(https, http, dnsup)
        # The readiness probe of 10443 is itself a check (direct connection).
        t.run("direct connection to the relay is closed, not forwarded",
              t.t_direct_relay_connection_refused)
        t.run("tcp/443 arrives with header, half-close both ways",
              t.t_https_header_and_half_close)
        t.run("tcp/80 arrives at the http upstream with header", t.t_http_header)
        t.run("10 MB both ways intact (sha256)", t.t_10mb_intact)
        t.run("upstream reset reaches the client", t.t_upstream_reset_reaches_client)
        t.run("tcp/22 is rejected", t.t_ssh_rejected)
        t.run("udp/123 is rejected", t.t_udp_other_port_rejected)
        t.run("DNS over UDP (to 127.0.0.1 and elsewhere) framed and answered",
              t.t_dns_udp)
        t.run("DNS over TCP, two pipelined queries, half-close", t.t_dns_tcp)
        t.run("runt UDP datagram is not forwarded", t.t_dns_runt_dropped)
        for p in procs:
            if p.poll() is not None:
                t.failed += 1
                print(f"not ok - {p.args[0]} exited with {p.returncode}")
        print(f"{t.n - t.failed}/{t.n} passed")
        return 1 if t.failed else 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--inside":
        sys.exit(inside(*sys.argv[2:]))
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(outside(*[os.path.abspath(a) for a in sys.argv[1:]]))


if __name__ == "__main__":
    main()
