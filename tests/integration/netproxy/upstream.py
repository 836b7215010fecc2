#!/usr/bin/env python3
"""Test upstream for netproxy integration tests: HTTPS on ADDR:PORT with
CERT/KEY.  GET /bytes/N -> N bytes; POST /sha256 -> hex digest of the body
(Content-Length or chunked); GET /chunked -> chunked reply; GET /sse -> three
server-sent events, 0.2 s apart; anything else -> 'ok <method> <path>'."""
import hashlib
import http.server
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, body, ctype='text/plain'):
        self.send_response(200)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            data = b''
            while True:
                size = int(self.rfile.readline().split(b';')[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b''):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get('Content-Length', '0')))

    def do_GET(self):
        if self.path.startswith('/bytes/'):
            n = int(self.path[7:])
            self.reply(bytes(i % 251 for i in range(n)))
        elif self.path == '/chunked':
            self.send_response(200)
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for part in (b'one ', b'two ', b'three'):
                self.wfile.write(b'%x\r\n%s\r\n' % (len(part), part))
            self.wfile.write(b'0\r\n\r\n')
        elif self.path == '/sse':
            self.send_response(200)
            self.send_header('Content-Type', 'text/event-stream')
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for i in range(3):
                ev = b'data: event %d\n\n' % i
                self.wfile.write(b'%x\r\n%s\r\n' % (len(ev), ev))
                self.wfile.flush()
                time.sleep(0.2)
            self.wfile.write(b'0\r\n\r\n')
        elif self.path == '/headers':
            self.reply(str(self.headers).encode())
        else:
            self.reply(b'ok GET ' + self.path.encode())

    def do_POST(self):
        body = self.read_body()
        if self.path == '/sha256':
            self.reply(hashlib.sha256(body).hexdigest().encode())
        else:
            self.reply(b'ok POST %d' % len(body))

    do_PUT = do_POST

    def do_DELETE(self):
        self.reply(b'ok DELETE ' + self.path.encode())


def main():
    addr, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    srv = http.server.ThreadingHTTPServer((addr, port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print('ready', flush=True)
    srv.serve_forever()


main()
