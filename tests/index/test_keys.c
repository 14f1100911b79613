/* test_keys.c - the key builders of index/keys.h: exact byte layout, that
 * big-endian composites sort numerically, occupation padding and the prefix
 * bounds the listing scans rely on.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "keys.h"

static int
keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    /* LMDB's default order: memcmp over the shorter, then length. */
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c;
    return al < bl ? -1 : al > bl;
}

Test(keys, be64_roundtrip_and_bytes)
{
    uint8_t b[8];
    ixk_put_be64(b, 0x0102030405060708ULL);
    const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cr_assert(memcmp(b, want, 8) == 0);
    cr_assert_eq(ixk_get_be64(b), 0x0102030405060708ULL);
    ixk_put_be32(b, 0xA0B0C0D0u);
    cr_assert_eq(b[0], 0xA0);
    cr_assert_eq(b[3], 0xD0);
    cr_assert_eq(ixk_get_be32(b), 0xA0B0C0D0u);
}

Test(keys, doc_keys_sort_by_docno)
{
    srand(7);
    uint64_t samples[] = {0, 1, 255, 256, 65535, 65536, 1ULL << 32,
                          (1ULL << 32) + 1, UINT64_MAX - 1, UINT64_MAX};
    size_t n = sizeof samples / sizeof samples[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            uint8_t a[IXK_MAX], b[IXK_MAX];
            size_t al = ixk_doc(a, IX_VACANCY, samples[i]);
            size_t bl = ixk_doc(b, IX_VACANCY, samples[j]);
            cr_assert_eq(al, IXK_DOC_LEN);
            int c = keycmp(a, al, b, bl);
            int want = samples[i] < samples[j] ? -1 : samples[i] > samples[j];
            cr_assert_eq(c < 0 ? -1 : c > 0, want, "docno %zu vs %zu", i, j);
        }
    for (int r = 0; r < 2000; r++) {
        uint64_t x = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^
                     (uint64_t)rand();
        uint64_t y = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^
                     (uint64_t)rand();
        uint8_t a[IXK_MAX], b[IXK_MAX];
        ixk_region(a, IX_WORKER, "110105", x);
        ixk_region(b, IX_WORKER, "110105", y);
        int c = memcmp(a, b, IXK_REGION_LEN);
        cr_assert_eq(c < 0 ? -1 : c > 0, x < y ? -1 : x > y);
        cr_assert_eq(ixk_docno_of(a, IXK_REGION_LEN), x);
    }
}

Test(keys, region_layout)
{
    uint8_t k[IXK_MAX];
    size_t n = ixk_region(k, IX_VACANCY, "110105", 0x1234);
    cr_assert_eq(n, 16);
    const uint8_t want[16] = {'R', 'V', '1', '1', '0', '1', '0', '5',
                              0,   0,   0,   0,   0,   0,   0x12, 0x34};
    cr_assert(memcmp(k, want, 16) == 0);
    uint8_t p[IXK_MAX];
    size_t pl = ixk_region_prefix(p, IX_VACANCY, "1101", 4);
    cr_assert_eq(pl, 6);
    cr_assert(ixk_has_prefix(k, n, p, pl));
    pl = ixk_region_prefix(p, IX_VACANCY, "1102", 4);
    cr_assert_not(ixk_has_prefix(k, n, p, pl));
    pl = ixk_region_prefix(p, IX_WORKER, "1101", 4);
    cr_assert_not(ixk_has_prefix(k, n, p, pl), "kinds never share a range");
}

Test(keys, occupation_padding_and_order)
{
    uint8_t a[IXK_MAX], b[IXK_MAX], c[IXK_MAX], d[IXK_MAX];
    size_t n = ixk_occupation(a, IX_WORKER, "6-05", 4, 9);
    cr_assert_eq(n, IXK_OCC_LEN);
    cr_assert_eq(a[0], 'O');
    cr_assert_eq(a[1], 'W');
    cr_assert(memcmp(a + 2, "6-05\0\0\0\0\0\0", 10) == 0);
    cr_assert_eq(ixk_docno_of(a, n), 9);
    /* A shorter code sorts before the codes it prefixes, whatever the
     * docnos, and they all sort before the next sibling. */
    ixk_occupation(b, IX_WORKER, "6-05-02", 7, 1);
    ixk_occupation(c, IX_WORKER, "6-05-02-03", 10, 0);
    ixk_occupation(d, IX_WORKER, "6-06", 4, 0);
    cr_assert_lt(memcmp(a, b, IXK_OCC_LEN), 0);
    cr_assert_lt(memcmp(b, c, IXK_OCC_LEN), 0);
    cr_assert_lt(memcmp(c, d, IXK_OCC_LEN), 0);
    uint8_t p[IXK_MAX];
    size_t pl = ixk_occupation_prefix(p, IX_WORKER, "6-05", 4);
    cr_assert(ixk_has_prefix(a, n, p, pl));
    cr_assert(ixk_has_prefix(b, n, p, pl));
    cr_assert(ixk_has_prefix(c, n, p, pl));
    cr_assert_not(ixk_has_prefix(d, n, p, pl));
    pl = ixk_occupation_prefix(p, IX_WORKER, "6-05-02", 7);
    cr_assert_not(ixk_has_prefix(a, n, p, pl));
    cr_assert(ixk_has_prefix(c, n, p, pl));
}

Test(keys, skill_keys_are_prefix_free)
{
    uint8_t ab[IXK_MAX], abc[IXK_MAX], p[IXK_MAX];
    size_t n1 = ixk_skill(ab, IX_VACANCY, "ab", 2, UINT64_MAX);
    size_t n2 = ixk_skill(abc, IX_VACANCY, "abc", 3, 0);
    cr_assert_eq(n1, 2 + 2 + 1 + 8);
    cr_assert_eq(n2, 2 + 3 + 1 + 8);
    cr_assert_eq(ab[4], 0, "NUL ends the skill id");
    cr_assert_lt(keycmp(ab, n1, abc, n2), 0,
                 "all of ab's postings sort before abc's");
    /* The range of skill "ab" is the key up to its NUL. */
    size_t pl = ixk_df(p, IX_VACANCY, "ab", 2);
    p[0] = 'K';
    cr_assert(ixk_has_prefix(ab, n1, p, pl));
    cr_assert_not(ixk_has_prefix(abc, n2, p, pl));
    uint8_t df[IXK_MAX];
    size_t dl = ixk_df(df, IX_WORKER, "x.y/z", 5);
    cr_assert_eq(dl, 8);
    cr_assert(memcmp(df, "DWx.y/z\0", 8) == 0);
}

Test(keys, small_keys)
{
    uint8_t k[IXK_MAX];
    cr_assert_eq(ixk_status(k, IX_VACANCY, 1, 2), IXK_STATUS_LEN);
    cr_assert(memcmp(k, "SV\x01\0\0\0\0\0\0\0\x02", 11) == 0);
    cr_assert_eq(ixk_category(k, IX_WORKER, 3, 258), IXK_CATEGORY_LEN);
    cr_assert(memcmp(k, "CW\x03\0\0\0\0\0\0\x01\x02", 11) == 0);
    cr_assert_eq(ixk_counter(k, IXK_TOTAL, IX_WORKER), 2);
    cr_assert(memcmp(k, "TW", 2) == 0);
    cr_assert_eq(ixk_id(k, IX_WORKER, "w-1", 3), 4);
    cr_assert(memcmp(k, "Ww-1", 4) == 0);
    cr_assert_eq(ixk_meta_docno(k, IX_VACANCY), 6);
    cr_assert(memcmp(k, "docnoV", 6) == 0);
    uint8_t a[8], b[8];
    ixk_seq(a, 255);
    ixk_seq(b, 256);
    cr_assert_lt(memcmp(a, b, 8), 0);
    /* Status keys group by status first, then docno. */
    uint8_t s1[IXK_MAX], s2[IXK_MAX];
    ixk_status(s1, IX_VACANCY, 0, UINT64_MAX);
    ixk_status(s2, IX_VACANCY, 1, 0);
    cr_assert_lt(memcmp(s1, s2, IXK_STATUS_LEN), 0);
}
