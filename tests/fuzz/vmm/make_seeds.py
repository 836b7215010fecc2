#!/usr/bin/env python3
"""Write the seed inputs of the vmm fuzzers (run from this directory).

vsock: guest memory with the rings at q*0x200 (desc +0, avail +0x100,
used +0x140, 16 entries), packets from 0x600, receive buffers from 0x1000.
boot: a minimal bzImage setup header and a minimal ELF64 with a PVH note.
fs: the hiprio and request rings as vsock's, FUSE requests from 0x600,
reply buffers from 0x4000.
snapfile: a whole state as vmm/snap/snapfile.h lays it out (mode byte 0),
and writer records (mode byte 1: type, instance, length, bytes; 0xff ends
them; then offset/xor changes).
"""
import os
import struct


def vsock_hdr(op, dst_port=1443, length=0, dst_cid=2, flags=0, src_port=5000):
    return struct.pack('<QQIIIHHIII', 3, dst_cid, src_port, dst_port, length, 1,
                       op, flags, 65536, 0)


def vsock_seed(packets):
    mem = bytearray(0x2000)
    # rx queue 0: 8 writable buffers of 0x100
    for i in range(8):
        struct.pack_into('<QIHH', mem, 0 + 16 * i, 0x1000 + 0x100 * i, 0x100, 2, 0)
    struct.pack_into('<HH', mem, 0x100, 0, 8)
    for i in range(8):
        struct.pack_into('<H', mem, 0x104 + 2 * i, i)
    # tx queue 1: one descriptor per packet
    addr = 0x600
    for i, p in enumerate(packets):
        mem[addr:addr + len(p)] = p
        struct.pack_into('<QIHH', mem, 0x200 + 16 * i, addr, len(p), 0, 0)
        addr += (len(p) + 15) & ~15
    struct.pack_into('<HH', mem, 0x300, 0, len(packets))
    for i in range(len(packets)):
        struct.pack_into('<H', mem, 0x304 + 2 * i, i)
    return bytes(mem)


def bzimage():
    img = bytearray(2048)
    img[0x1f1] = 1                       # setup_sects: setup is 1024 bytes
    struct.pack_into('<H', img, 0x1fe, 0xaa55)
    img[0x200] = 0xeb
    img[0x201] = 0x62                    # header ends at 0x264
    img[0x202:0x206] = b'HdrS'
    struct.pack_into('<H', img, 0x206, 0x020f)
    img[0x211] = 0x01                    # LOADED_HIGH
    struct.pack_into('<I', img, 0x22c, 0x7fffffff)
    struct.pack_into('<I', img, 0x230, 0x200000)
    img[0x234] = 1
    struct.pack_into('<H', img, 0x236, 0x1)   # XLF_KERNEL_64
    struct.pack_into('<I', img, 0x238, 2047)
    struct.pack_into('<Q', img, 0x258, 0x1000000)
    struct.pack_into('<I', img, 0x260, 0x10000)
    return bytes(img)


def pvh_elf():
    note = struct.pack('<III', 4, 4, 18) + b'Xen\0' + struct.pack('<I', 0x1000100)
    ehdr_size, phdr_size = 64, 56
    load_off = ehdr_size + 2 * phdr_size
    body = b'\x90' * 64
    note_off = load_off + len(body)
    ehdr = b'\x7fELF' + bytes([2, 1, 1]) + bytes(9) + struct.pack(
        '<HHIQQQIHHHHHH', 2, 62, 1, 0xffffffff81000000, ehdr_size, 0, 0,
        ehdr_size, phdr_size, 2, 64, 0, 0)
    load = struct.pack('<IIQQQQQQ', 1, 5, load_off, 0xffffffff81000000,
                       0x1000000, len(body), 0x2000, 0x1000)
    pnote = struct.pack('<IIQQQQQQ', 4, 4, note_off, 0, 0, len(note), len(note), 4)
    return ehdr + load + pnote + body + note


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), 'wb').write(data)


write('seeds/vsock', 'request', vsock_seed([vsock_hdr(1)]))
write('seeds/vsock', 'request-rw-shutdown', vsock_seed([
    vsock_hdr(1), vsock_hdr(5, length=5) + b'hello', vsock_hdr(4, flags=3)]))
write('seeds/vsock', 'control-ready', vsock_seed([
    vsock_hdr(1, dst_port=1024), vsock_hdr(5, dst_port=1024, length=6) + b'READY\n',
    vsock_hdr(7, dst_port=1024), vsock_hdr(3, dst_port=1024)]))
write('seeds/vsock', 'refused', vsock_seed([
    vsock_hdr(1, dst_port=4444), vsock_hdr(1, dst_cid=1)]))
write('seeds/boot', 'bzimage', bzimage())
write('seeds/boot', 'pvh-elf', pvh_elf())
vq = bytearray(8 + 0x800)
vq[0:8] = bytes([4, 0, 1, 2, 0, 0, 8, 0])   # num 16, desc 0, avail 0x100, used 0x200
struct.pack_into('<QIHH', vq, 8 + 0, 0x100400, 16, 1, 1)
struct.pack_into('<QIHH', vq, 8 + 16, 0x100500, 64, 2, 0)
struct.pack_into('<HHH', vq, 8 + 0x100, 0, 1, 0)
write('seeds/virtq', 'two-desc-chain', bytes(vq))


# fs: guest memory with the hiprio (0) and request (1) rings at q*0x200
# (as vsock), requests from 0x600, reply buffers from 0x4000.
def fuse_req(op, unique, nodeid=1, body=b''):
    return struct.pack('<IIQQIIIHH', 40 + len(body), op, unique, nodeid,
                       0, 0, 0, 0, 0) + body


def fs_seed(hiprio, requests, reply_len=0x200, split=False):
    mem = bytearray(0x6000)
    addr, reply = 0x600, 0x4000
    for q, reqs in ((0, hiprio), (1, requests)):
        base, d = q * 0x200, 0
        heads = []
        for r in reqs:
            mem[addr:addr + len(r)] = r
            parts = [(addr, 40), (addr + 40, len(r) - 40)] \
                if split and len(r) > 40 else [(addr, len(r))]
            addr += (len(r) + 15) & ~15
            heads.append(d)
            for a, n in parts:
                struct.pack_into('<QIHH', mem, base + 16 * d, a, n, 1, d + 1)
                d += 1
            if q == 1:
                struct.pack_into('<QIHH', mem, base + 16 * d, reply,
                                 reply_len, 2, 0)
                reply += reply_len
                d += 1
            else:
                struct.pack_into('<QIHH', mem, base + 16 * (d - 1),
                                 parts[-1][0], parts[-1][1], 0, 0)
        struct.pack_into('<HH', mem, base + 0x100, 0, len(heads))
        for i, h in enumerate(heads):
            struct.pack_into('<H', mem, base + 0x104 + 2 * i, h)
    return bytes(mem)


fs_init = fuse_req(26, 1, 0, struct.pack('<IIII', 7, 38, 131072, 0) + bytes(48))
fs_lookup = fuse_req(1, 2, 1, b'f\0')
fs_getattr = fuse_req(3, 3, 1, bytes(16))
fs_forget = fuse_req(2, 4, 2, struct.pack('<Q', 1))
fs_write = fuse_req(16, 5, 2, struct.pack('<QQIIQII', 1, 0, 5, 0, 0, 0, 0) +
                    b'hello')
fs_bforget = fuse_req(42, 6, 0, struct.pack('<II', 2, 0) +
                      struct.pack('<QQQQ', 2, 1, 3, 1))
write('seeds/fs', 'init-lookup', fs_seed([], [fs_init, fs_lookup, fs_getattr]))
write('seeds/fs', 'forget-write', fs_seed([fs_forget, fs_bforget],
                                          [fs_write], split=True))
write('seeds/fs', 'small-reply', fs_seed([], [fs_lookup, fs_init],
                                         reply_len=16))


def crc32c(data, crc=0):
    crc ^= 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def snap_state(sections, build=b'capsem-vmm seed', vendor=b'AuthenticAMD'):
    body = b''
    for typ, inst, payload in sections:
        h = struct.pack('<IIQ', typ, inst, len(payload))
        body += h + struct.pack('<II', crc32c(payload, crc32c(h)), 0)
        body += payload + bytes(-len(payload) % 8)
    head = (b'CAPSEMSS' + struct.pack('<II', 1, 128) + build.ljust(48, b'\0') +
            vendor + struct.pack('<IQIIQ', 0x1234abcd, 4096, 0, len(sections),
                                 len(body)) + bytes(20))
    return head + struct.pack('<I', crc32c(head)) + body


write('seeds/snapfile', 'state', b'\0' + snap_state(
    [(1, 0, b'vcpu registers' * 20), (1, 1, b''), (5, 2, b'vsock queue')]))
write('seeds/snapfile', 'writer', b'\1' + bytes([1, 0, 9]) + b'vcpu zero' +
      bytes([5, 3, 5]) + b'vsock' + b'\xff' + bytes([130, 0, 1, 10, 0, 4]))
