#!/usr/bin/env python3
"""A tiny authoritative DNS server on UDP ADDR:53 for netproxy's upstream
resolver (pointed at it with CAPSEM_RESOLV_CONF).

usage: dnsserver.py ADDR TARGET_ADDR

  dns.example.test    first two forged answers (wrong id, wrong question
                      name) carrying 127.0.0.9, then the real A TARGET_ADDR
  cname.example.test  CNAME alias.example.test, A TARGET_ADDR for the alias
  nx.example.test     NXDOMAIN
  silent.example.test never answered
  anything else       REFUSED
Prints 'ready', then one line per query it received: 'q NAME'.
"""
import socket
import struct
import sys


def encode_name(name):
    out = b''
    for label in name.rstrip('.').split('.'):
        out += bytes([len(label)]) + label.encode()
    return out + b'\0'


def read_question(msg):
    labels, p = [], 12
    while msg[p]:
        n = msg[p]
        labels.append(msg[p + 1:p + 1 + n].decode('ascii').lower())
        p += 1 + n
    p += 1
    qtype, qclass = struct.unpack('>HH', msg[p:p + 4])
    return '.'.join(labels), qtype, qclass, msg[12:p + 4]


def answer(qid, question, rcode=0, records=()):
    flags = 0x8400 | 0x0100 | 0x0080 | rcode     # QR AA RD RA
    out = struct.pack('>HHHHHH', qid, flags, 1, len(records), 0, 0)
    out += question
    for rr in records:
        out += rr
    return out


def rr_a(name, addr, ttl=30):
    return encode_name(name) + struct.pack('>HHIH', 1, 1, ttl, 4) + \
        socket.inet_aton(addr)


def rr_cname(name, target, ttl=30):
    rdata = encode_name(target)
    return encode_name(name) + struct.pack('>HHIH', 5, 1, ttl, len(rdata)) + \
        rdata


def main():
    addr, target = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    print('ready', flush=True)
    while True:
        msg, peer = s.recvfrom(4096)
        if len(msg) < 12:
            continue
        qid = struct.unpack('>H', msg[:2])[0]
        try:
            name, qtype, qclass, question = read_question(msg)
        except (IndexError, UnicodeDecodeError, struct.error):
            continue
        print('q %s' % name, flush=True)
        if name == 'dns.example.test':
            forged = rr_a(name, '127.0.0.9')
            s.sendto(answer(qid ^ 0x5a5a, question, 0, [forged]), peer)
            other = encode_name('other.example.test') + question[-4:]
            s.sendto(answer(qid, other, 0, [forged]), peer)
            s.sendto(answer(qid, question, 0, [rr_a(name, target)]), peer)
        elif name == 'cname.example.test':
            s.sendto(answer(qid, question, 0, [
                rr_cname(name, 'alias.example.test'),
                rr_a('alias.example.test', target)]), peer)
        elif name == 'nx.example.test':
            s.sendto(answer(qid, question, 3), peer)
        elif name == 'silent.example.test':
            pass
        else:
            s.sendto(answer(qid, question, 5), peer)


main()
