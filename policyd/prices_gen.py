#!/usr/bin/env python3
"""Turn policyd/prices.tsv (data) into a C header of price rows.

    prices_gen.py SOURCE OUTPUT

Each price becomes picodollars per token (1 USD per million tokens =
1,000,000 pUSD per token), exactly: at most 6 decimal places are allowed.
"""
import re
import sys

NUM = re.compile(r'(\d+)(?:\.(\d{1,6}))?')


def pusd_per_token(text, where):
    m = NUM.fullmatch(text)
    if not m:
        sys.exit('%s: not a price in USD per million tokens: %r' % (where, text))
    whole, frac = m.group(1), (m.group(2) or '')
    return int(whole) * 1000000 + int(frac.ljust(6, '0'))


def main():
    src, out = sys.argv[1], sys.argv[2]
    rows, source, seen = [], None, set()
    with open(src, encoding='ascii') as f:
        for lineno, raw in enumerate(f, 1):
            where = '%s:%d' % (src.split('/')[-1], lineno)
            line = raw.rstrip('\n')
            if not line.strip() or line.startswith('#'):
                continue
            cols = line.split('\t')
            if cols[0] == 'source':
                if len(cols) != 2 or not cols[1]:
                    sys.exit('%s: source needs one value' % where)
                source = cols[1]
                continue
            if len(cols) != 5:
                sys.exit('%s: want model, input, output, cache read, cache write' % where)
            if source is None:
                sys.exit('%s: a price before any source line' % where)
            if not re.fullmatch(r'[a-z0-9][a-z0-9.\-]*', cols[0]) or cols[0] in seen:
                sys.exit('%s: bad or repeated model prefix %r' % (where, cols[0]))
            seen.add(cols[0])
            p = [pusd_per_token(c, where) for c in cols[1:]]
            rows.append('\t{ "%s", %dULL, %dULL, %dULL, %dULL, "%s" },'
                        % (cols[0], p[0], p[1], p[2], p[3], source.replace('"', '')))
    if not rows:
        sys.exit('%s: no prices' % src)
    with open(out, 'w', encoding='ascii') as f:
        f.write('/* generated from prices.tsv by prices_gen.py: do not edit */\n')
        f.write('static const struct price_row price_rows[] = {\n')
        f.write('\n'.join(rows) + '\n};\n')


main()
