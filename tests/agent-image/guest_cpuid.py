# Raw CPUID and XCR0 as the guest sees them (leaves 0, 1, 7.0, 0xd.0-2):
# a diagnostic the agent-image test runs in the guest with its python3,
# base64-encoded into one session argument.  Prints GUEST-CPUID lines.
import ctypes, mmap, struct
def fn(code, restype, *argtypes):
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(code)
    f = ctypes.CFUNCTYPE(restype, *argtypes)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
    f._keep = m
    return f
cpuid_f = fn(bytes.fromhex('534989d089f889f10fa241890041895804418948084189500c5bc3'), None, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p)
def cpuid(leaf, sub=0):
    buf = ctypes.create_string_buffer(16)
    cpuid_f(leaf, sub, buf)
    return struct.unpack('<4I', buf.raw)
for leaf, sub in ((0, 0), (1, 0), (7, 0), (0xd, 0), (0xd, 1), (0xd, 2)):
    print('GUEST-CPUID 0x%x.%d eax=0x%08x ebx=0x%08x ecx=0x%08x edx=0x%08x' % ((leaf, sub) + cpuid(leaf, sub)))
if cpuid(1)[2] & (1 << 27):
    xgetbv = fn(bytes.fromhex('31c90f01d048c1e2204809d0c3'), ctypes.c_uint64)
    print('GUEST-CPUID xcr0=0x%x' % xgetbv())
else:
    print('GUEST-CPUID xcr0=none (no OSXSAVE)')
