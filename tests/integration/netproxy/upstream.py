#!/usr/bin/env python3
"""Test upstream for netproxy integration tests: HTTPS on ADDR:PORT with
CERT/KEY, or plain HTTP when CERT is "plain" (KEY ignored).

  GET  /bytes/N      N bytes (i % 251)
  GET  /random/N     N bytes from a fixed generator (see random_block)
  POST /sha256       hex sha256 of the body (Content-Length or chunked),
                     read as it streams
  GET  /chunked      a chunked reply
  GET  /sse          server-sent events: 'event 0' at once, the rest only
                     after GET /release (so a buffering proxy is caught
                     without timing anything)
  GET  /release      lets /sse go on
  GET  /peer         the client's port as this server sees it (connection
                     reuse by the proxy shows as the same port)
  GET  /headers      the request head as received
  GET  /ws           WebSocket (RFC 6455): echoes text/binary frames
  GET  /extra        'first', then, after GET /extra-go, an extra
                     unasked response 'extra' on the same connection
  GET  /extra-go     lets /extra send its extra response; answers once
                     it is written
  GET  /interim/N    N interim 103 responses, then 'ok'
  GET  /badchunk     a chunked reply whose second chunk size is not hex
  TRACE any          the request head as received
  anything else      'ok <method> <path>'
"""
import base64
import hashlib
import http.server
import ssl
import struct
import sys
import threading

RELEASE = threading.Event()
EXTRA_GO = threading.Event()
EXTRA_SENT = threading.Event()
WS_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def random_block():
    """1 MiB of sha256-chained bytes: the test makes the same."""
    out, h = bytearray(), b'capsem'
    while len(out) < 1 << 20:
        h = hashlib.sha256(h).digest()
        out += h
    return bytes(out[:1 << 20])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, body, ctype='text/plain', code=200):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body_chunks(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            while True:
                size = int(self.rfile.readline().split(b';')[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b''):
                        pass
                    return
                while size > 0:
                    part = self.rfile.read(min(size, 1 << 16))
                    if not part:
                        return
                    size -= len(part)
                    yield part
                self.rfile.readline()
        else:
            left = int(self.headers.get('Content-Length', '0'))
            while left > 0:
                part = self.rfile.read(min(left, 1 << 16))
                if not part:
                    return
                left -= len(part)
                yield part

    def websocket(self):
        key = self.headers.get('Sec-WebSocket-Key', '').encode()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        self.send_response(101)
        self.send_header('Upgrade', 'websocket')
        self.send_header('Connection', 'Upgrade')
        self.send_header('Sec-WebSocket-Accept', accept.decode())
        self.end_headers()
        self.wfile.flush()
        while True:
            hdr = self.rfile.read(2)
            if len(hdr) < 2:
                return
            opcode, n = hdr[0] & 0x0f, hdr[1] & 0x7f
            if n == 126:
                n = struct.unpack('>H', self.rfile.read(2))[0]
            elif n == 127:
                n = struct.unpack('>Q', self.rfile.read(8))[0]
            mask = self.rfile.read(4) if hdr[1] & 0x80 else b'\0\0\0\0'
            data = bytes(b ^ mask[i % 4] for i, b in
                         enumerate(self.rfile.read(n)))
            if opcode == 8:
                self.wfile.write(b'\x88\x00')
                self.wfile.flush()
                return
            if n < 126:
                head = bytes([0x80 | opcode, n])
            elif n < 65536:
                head = bytes([0x80 | opcode, 126]) + struct.pack('>H', n)
            else:
                head = bytes([0x80 | opcode, 127]) + struct.pack('>Q', n)
            self.wfile.write(head + data)
            self.wfile.flush()

    def do_GET(self):
        if self.path.startswith('/bytes/'):
            n = int(self.path[7:])
            self.reply(bytes(i % 251 for i in range(n)))
        elif self.path.startswith('/random/'):
            n, block = int(self.path[8:]), random_block()
            self.send_response(200)
            self.send_header('Content-Length', str(n))
            self.end_headers()
            while n > 0:
                part = block[:min(n, len(block))]
                self.wfile.write(part)
                n -= len(part)
        elif self.path == '/chunked':
            self.send_response(200)
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for part in (b'one ', b'two ', b'three'):
                self.wfile.write(b'%x\r\n%s\r\n' % (len(part), part))
            self.wfile.write(b'0\r\n\r\n')
        elif self.path == '/sse':
            RELEASE.clear()
            self.send_response(200)
            self.send_header('Content-Type', 'text/event-stream')
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for i in range(3):
                ev = b'data: event %d\n\n' % i
                self.wfile.write(b'%x\r\n%s\r\n' % (len(ev), ev))
                self.wfile.flush()
                if i == 0:
                    RELEASE.wait(30)
            self.wfile.write(b'0\r\n\r\n')
        elif self.path == '/release':
            RELEASE.set()
            self.reply(b'released')
        elif self.path == '/peer':
            self.reply(b'%d' % self.client_address[1])
        elif self.path.startswith('/interim/'):
            n = int(self.path[len('/interim/'):])
            self.wfile.write(b'HTTP/1.1 103 Early Hints\r\n'
                             b'Link: </s.css>; rel=preload\r\n\r\n' * n)
            self.reply(b'ok')
        elif self.path == '/badchunk':
            self.wfile.write(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'
                             b'\r\n\r\n5\r\nhello\r\nZZ\r\nrest\r\n')
            self.wfile.flush()
            self.close_connection = True
        elif self.path == '/extra':
            self.reply(b'first')
            self.wfile.flush()
            if EXTRA_GO.wait(30):
                EXTRA_GO.clear()
                self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'
                                 b'\r\nextra')
                self.wfile.flush()
                EXTRA_SENT.set()
        elif self.path == '/extra-go':
            EXTRA_SENT.clear()
            EXTRA_GO.set()
            EXTRA_SENT.wait(30)
            self.reply(b'sent')
        elif self.path == '/headers':
            self.reply(str(self.headers).encode())
        elif self.path == '/ws' and \
                self.headers.get('Upgrade', '').lower() == 'websocket':
            self.websocket()
            self.close_connection = True
        else:
            self.reply(b'ok GET ' + self.path.encode())

    def do_POST(self):
        if self.path == '/sha256':
            h = hashlib.sha256()
            for part in self.body_chunks():
                h.update(part)
            self.reply(h.hexdigest().encode())
        else:
            n = sum(len(p) for p in self.body_chunks())
            self.reply(b'ok POST %d' % n)

    do_PUT = do_POST

    def do_TRACE(self):
        self.reply(str(self.headers).encode(), ctype='message/http')

    def do_DELETE(self):
        self.reply(b'ok DELETE ' + self.path.encode())


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass        # malformed bodies from the smuggling corpus: just close


def main():
    addr, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    srv = Server((addr, port), Handler)
    if cert != 'plain':
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print('ready', flush=True)
    srv.serve_forever()


main()
