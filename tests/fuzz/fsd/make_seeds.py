#!/usr/bin/env python3
"""Write the seed inputs of the fsd fuzzers (run from this directory).

fs_req: one FUSE request each (fuse_in_header, then its body).
fs_serve: sequences of [u16 out_max][request]; the harness has answered
INIT and made the tree f, d/, d/g, l -> ../outside, p (a FIFO).  Node 1 is
the root; nodes and file handles are given out from 2 and 1 in order.
"""
import os
import struct

LOOKUP, FORGET, GETATTR, SETATTR, READLINK, SYMLINK = 1, 2, 3, 4, 5, 6
MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, OPEN, READ, WRITE = (
    8, 9, 10, 11, 12, 13, 14, 15, 16)
RELEASE, INIT, OPENDIR, READDIR, CREATE, BATCH_FORGET = 18, 26, 27, 28, 35, 42
READDIRPLUS, RENAME2 = 44, 45
unique = 0


def req(op, nodeid, body=b''):
    global unique
    unique += 1
    return struct.pack('<IIQQIIIHH', 40 + len(body), op, unique, nodeid,
                       0, 0, 0, 0, 0) + body


def name(s):
    return s.encode() + b'\0'


def init():
    return req(INIT, 0, struct.pack('<IIII', 7, 38, 131072, 0xffffffff) +
               bytes(48))


def lookup(parent, n):
    return req(LOOKUP, parent, name(n))


def write_in(fh, off, data):
    return req(WRITE, 2, struct.pack('<QQIIQII', fh, off, len(data), 0, 0,
                                     0, 0) + data)


def read_in(op, nodeid, fh, off, size):
    return req(op, nodeid, struct.pack('<QQIIQII', fh, off, size, 0, 0, 0, 0))


def create(parent, n, flags=0o102, mode=0o100644):
    return req(CREATE, parent, struct.pack('<IIII', flags, mode, 0o22, 0) +
               name(n))


def rename2(parent, n, newdir, n2, flags=0):
    return req(RENAME2, parent, struct.pack('<QII', newdir, flags, 0) +
               name(n) + name(n2))


def batch_forget(pairs):
    return req(BATCH_FORGET, 0, struct.pack('<II', len(pairs), 0) +
               b''.join(struct.pack('<QQ', a, b) for a, b in pairs))


def mkdir(parent, n, mode=0o755):
    return req(MKDIR, parent, struct.pack('<II', mode, 0o22) + name(n))


def opendir(nodeid):
    return req(OPENDIR, nodeid, struct.pack('<II', 0, 0))


def seq(*reqs, out_max=0xffff):
    return b''.join(struct.pack('<H', out_max) + r for r in reqs)


def write(d, n, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, n), 'wb') as f:
        f.write(data)


write('seeds/fs_req', 'init', init())
write('seeds/fs_req', 'lookup', lookup(1, 'f'))
write('seeds/fs_req', 'write', write_in(1, 0, b'hello'))
write('seeds/fs_req', 'batch-forget', batch_forget([(2, 1), (3, 2)]))
write('seeds/fs_req', 'rename2', rename2(1, 'f', 2, 'g', 1))
write('seeds/fs_req', 'symlink', req(SYMLINK, 1, name('s') + name('../x')))
write('seeds/fs_req', 'create', create(1, 'new'))

write('seeds/fs_serve', 'lookup-getattr', seq(
    lookup(1, 'f'), req(GETATTR, 2, bytes(16)), lookup(1, 'l'),
    req(READLINK, 3), lookup(1, 'p'), req(OPEN, 4, struct.pack('<II', 0, 0))))
write('seeds/fs_serve', 'create-write-read', seq(
    create(1, 'new'), write_in(1, 0, b'hello world'),
    read_in(READ, 2, 1, 0, 4096), req(RELEASE, 2, bytes(24))))
write('seeds/fs_serve', 'mkdir-rename', seq(
    mkdir(1, 'e'), lookup(1, 'd'), rename2(3, 'g', 2, 'h'),
    rename2(1, 'd', 1, 'e', 2), req(UNLINK, 2, name('h')),
    req(RMDIR, 1, name('d'))))
write('seeds/fs_serve', 'readdirplus-forget', seq(
    opendir(1), read_in(READDIRPLUS, 1, 1, 0, 4096),
    read_in(READDIR, 1, 1, 0, 200), batch_forget([(2, 1), (3, 1), (4, 1)]),
    lookup(1, 'f')))
write('seeds/fs_serve', 'small-reply', seq(lookup(1, 'f'), out_max=20) +
      seq(lookup(1, 'd'), out_max=8))
