#!/usr/bin/env python3
"""Run every tests/config/*.toml through config-tool and check the result.

Each NAME.toml has NAME.err beside it: the expected first line of
`config-tool lint` (an error "NAME.toml:LINE: message", or "ok").  Every
accepted file is also loaded with Python's tomllib and must mean the same
as what capsem parsed (config-tool dump prints it as JSON): we accept only
real TOML.

usage: config_cases.py CONFIG_TOOL CASES_DIR
"""
import json
import os
import subprocess
import sys
import tomllib


def main():
    tool, cases = sys.argv[1], sys.argv[2]
    names = sorted(f[:-5] for f in os.listdir(cases) if f.endswith('.toml'))
    failures = 0
    nok = 0
    for name in names:
        path = os.path.join(cases, name + '.toml')
        try:
            with open(os.path.join(cases, name + '.err'), encoding='utf-8') as f:
                expected = f.readline().rstrip('\n')
        except FileNotFoundError:
            print(f'FAIL {name}: no {name}.err beside it')
            failures += 1
            continue
        res = subprocess.run([tool, 'lint', path], capture_output=True)
        got = res.stdout.decode('utf-8', 'replace').split('\n', 1)[0]
        if got != expected or res.returncode != (0 if expected == 'ok' else 1):
            print(f'FAIL {name}:\n  expected: {expected}\n  got:      {got} '
                  f'(exit {res.returncode}) {res.stderr.decode()}')
            failures += 1
            continue
        if expected != 'ok':
            print(f'ok   {name}: {got}')
            continue
        nok += 1
        with open(path, 'rb') as f:
            try:
                want = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                print(f'FAIL {name}: capsem accepts it, tomllib does not: {e}')
                failures += 1
                continue
        dump = subprocess.run([tool, 'dump', path], capture_output=True)
        mine = json.loads(dump.stdout)
        if mine != want:
            print(f'FAIL {name}: meaning differs\n  tomllib: {want}\n  capsem:  {mine}')
            failures += 1
            continue
        print(f'ok   {name}: accepted, same as tomllib')
    print(f'{len(names)} cases, {nok} accepted and compared with tomllib, '
          f'{failures} failures')
    if len(names) < 40:
        print('FAIL: fewer than 40 cases')
        failures += 1
    return 1 if failures else 0


sys.exit(main())
