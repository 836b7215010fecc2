#!/usr/bin/env python3
"""Turn a seccomp allowlist (data, one rule a line) into a C header.

    seccomp_gen.py SOURCE OUTPUT NAME

NAME names the C array, NAME_seccomp_rules, and its length,
NAME_SECCOMP_NRULES: a process's allowlist (<proc>/<proc>.seccomp, NAME
<proc>, loaded by sandbox_enter) or one kind of thread's narrower one
(e.g. vmm/vmm_vcpu.seccomp, NAME vmm_vcpu, loaded by sandbox_narrow_thread).

Format:
    # comment
    read                      allow the syscall with any arguments
    ioctl 1 == KVM_RUN        allow only when argument 1 equals the value
    include <linux/kvm.h>     header that defines the constants used
Names are checked against libseccomp at run time: an unknown name is fatal.
"""
import re
import sys

def main():
    src, out, name = sys.argv[1], sys.argv[2], sys.argv[3]
    includes, rows = [], []
    with open(src, encoding='ascii') as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split('#', 1)[0].strip()
            if not line:
                continue
            m = re.fullmatch(r'include\s+(<[\w./]+>)', line)
            if m:
                includes.append(m.group(1))
                continue
            m = re.fullmatch(r'([a-z0-9_]+)', line)
            if m:
                rows.append('\t{ "%s", -1, 0 },' % m.group(1))
                continue
            m = re.fullmatch(r'([a-z0-9_]+)\s+([0-5])\s*==\s*([A-Za-z0-9_|() ]+)', line)
            if m:
                rows.append('\t{ "%s", %s, (uint64_t)(%s) },' % m.groups())
                continue
            sys.exit('%s:%d: cannot parse rule: %s' % (src, lineno, line))
    if not rows:
        sys.exit('%s: empty allowlist' % src)
    with open(out, 'w', encoding='ascii') as f:
        f.write('/* generated from %s by seccomp_gen.py: do not edit */\n' % src.split('/')[-1])
        f.write('#include <stdint.h>\n#include "sandbox.h"\n')
        for inc in includes:
            f.write('#include %s\n' % inc)
        f.write('static const struct seccomp_rule %s_seccomp_rules[] = {\n' % name)
        f.write('\n'.join(rows) + '\n};\n')
        f.write('#define %s_SECCOMP_NRULES (sizeof(%s_seccomp_rules) / sizeof(%s_seccomp_rules[0]))\n'
                % (name.upper(), name, name))

main()
