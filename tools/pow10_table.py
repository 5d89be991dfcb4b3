#!/usr/bin/env python3
"""Writes src/core/pow10_table.h: the powers of ten the shortest-double
formatter (src/core/shortest_double.c) scales by, as 126-bit integers split
in two 63-bit halves. Python's integers are exact at any size, which is why
this one tool is not in Lua.

For each k from K_MIN to K_MAX, 10^-k = beta * 2^r with 2^125 <= beta <
2^126, and g = floor(beta) + 1, so that (g - 1) 2^r <= 10^-k < g 2^r.

    python3 tools/pow10_table.py > src/core/pow10_table.h   (make tables)
"""

K_MIN = -324  # flog10(2^-1074), the smallest subnormal's exponent
K_MAX = 292  # flog10(2^971), the largest double's


def g_of(k):
    e = -k
    if e >= 0:
        n = 10**e
        shift = n.bit_length() - 126
        floor = n >> shift if shift >= 0 else n << -shift
    else:
        d = 10**-e
        # 2^125 d <= 2^m < 2^126 d, d not a power of two (e < 0)
        m = 125 + d.bit_length()
        floor = (1 << m) // d
    g = floor + 1
    assert (1 << 125) <= g <= (1 << 126)
    return g


def check_floor_logs():
    """The multiplications src/core/shortest_double.c takes for floor(log10(2^e)),
    floor(log10(3/4 2^e)) and floor(log2(10^e)), against exact fractions."""
    from fractions import Fraction

    for e in range(-1100, 1100):
        two = Fraction(2) ** e
        a = (e * 661971961083) >> 41
        b = (e * 661971961083 - 274743187321) >> 41
        assert Fraction(10) ** a <= two < Fraction(10) ** (a + 1), e
        assert Fraction(10) ** b <= two * 3 / 4 < Fraction(10) ** (b + 1), e
    for e in range(-K_MAX - 10, -K_MIN + 10):  # floor(log2(10^-k))
        c = (e * 913124641741) >> 38
        assert Fraction(2) ** c <= Fraction(10) ** e < Fraction(2) ** (c + 1), e


def main():
    check_floor_logs()
    mask = (1 << 63) - 1
    print("/* Written by tools/pow10_table.py (make tables): do not edit. */")
    print("#ifndef PULSE_CORE_POW10_TABLE_H")
    print("#define PULSE_CORE_POW10_TABLE_H")
    print()
    print("#include <stdint.h>")
    print()
    print("#define POW10_K_MIN (%d)" % K_MIN)
    print("#define POW10_K_MAX %d" % K_MAX)
    print()
    print("/* { g >> 63, g & (2^63 - 1) } for 10^-k, k = POW10_K_MIN + index */")
    print("static const uint64_t POW10_G[][2] = {")
    for k in range(K_MIN, K_MAX + 1):
        g = g_of(k)
        print("    {0x%016xu, 0x%016xu}, /* %d */" % (g >> 63, g & mask, k))
    print("};")
    print()
    print("#endif")


main()
