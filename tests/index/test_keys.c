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
    size_t n1 = ixk_skill(ab, IX_VACANCY, "ab", 2, "999999");
    size_t n2 = ixk_skill(abc, IX_VACANCY, "abc", 3, "000000");
    cr_assert_eq(n1, 2 + 2 + 1 + 6);
    cr_assert_eq(n2, 2 + 3 + 1 + 6);
    cr_assert_eq(ab[4], 0, "NUL ends the skill id");
    cr_assert_lt(keycmp(ab, n1, abc, n2), 0,
                 "all of ab's postings sort before abc's");
    /* The range of skill "ab" is the key up to its NUL. */
    size_t pl = ixk_skill_prefix(p, IX_VACANCY, "ab", 2, "", 0);
    cr_assert_eq(pl, 5);
    cr_assert(ixk_has_prefix(ab, n1, p, pl));
    cr_assert_not(ixk_has_prefix(abc, n2, p, pl));
    uint8_t df[IXK_MAX];
    size_t dl = ixk_df(df, IX_WORKER, "x.y/z", 5);
    cr_assert_eq(dl, 8);
    cr_assert(memcmp(df, "DWx.y/z\0", 8) == 0);
    /* The longest skill key fits the buffer bound. */
    char longest[IX_SKILL_ID_MAX];
    memset(longest, 'z', sizeof longest);
    uint8_t big[IXK_MAX];
    cr_assert_leq(ixk_skill(big, IX_WORKER, longest, IX_SKILL_ID_MAX,
                            "123456"),
                  IXK_MAX);
}

Test(keys, skill_layout_groups_by_region_then_docno)
{
    uint8_t k[IXK_MAX];
    size_t n = ixk_skill(k, IX_WORKER, "weld", 4, "110105");
    cr_assert_eq(n, 13);
    const uint8_t want[13] = {'K', 'W', 'w', 'e', 'l', 'd', 0,
                              '1', '1', '0', '1', '0', '5'};
    cr_assert(memcmp(k, want, 13) == 0);
    /* The value: match rank, docno big-endian, level, brief; fixed width
     * per kind. A worker's rank is 255 minus its education (brief byte
     * 7), a vacancy's its education_min (brief byte 17). */
    uint8_t brief[IXK_BRIEF_VACANCY], v[IXK_VAL_MAX];
    for (int i = 0; i < IXK_BRIEF_VACANCY; i++)
        brief[i] = (uint8_t)(0xa0 + i);
    size_t vl = ixk_skill_val(v, IX_WORKER, 0x0102, 4, brief);
    cr_assert_eq(vl, 1 + 8 + 1 + IXK_BRIEF_WORKER);
    cr_assert_eq(vl, ixk_skill_val_len(IX_WORKER));
    const uint8_t wantv[10] = {255 - 0xa7, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 4};
    cr_assert(memcmp(v, wantv, 10) == 0);
    cr_assert(memcmp(v + 10, brief, IXK_BRIEF_WORKER) == 0);
    cr_assert_eq(ixk_match_docno(v), 0x0102);
    cr_assert_eq(ixk_skill_val(v, IX_VACANCY, 1, 1, brief),
                 1 + 8 + 1 + IXK_BRIEF_VACANCY);
    cr_assert_eq(v[0], 0xa0 + 17);
    cr_assert_eq(ixk_skill_val_len(IX_VACANCY), 1 + 8 + 1 + IXK_BRIEF_VACANCY);
    /* Values sort by rank, then docno whatever the level: a higher level
     * of a lower docno sorts first, and a worker of more education (a
     * vacancy requiring less) before every docno of less (more). */
    uint8_t lo[IXK_VAL_MAX], hi[IXK_VAL_MAX];
    ixk_skill_val(lo, IX_WORKER, 255, 9, brief);
    ixk_skill_val(hi, IX_WORKER, 256, 1, brief);
    cr_assert_lt(memcmp(lo, hi, vl), 0);
    uint8_t more[IXK_BRIEF_VACANCY];
    memcpy(more, brief, sizeof more);
    more[7]++;
    ixk_skill_val(lo, IX_WORKER, 999, 1, more);
    cr_assert_lt(memcmp(lo, hi, vl), 0);
    cr_assert_eq(ix_match_rank(IX_WORKER, 3), 252);
    cr_assert_eq(ix_match_rank(IX_VACANCY, 3), 3);
    /* Every region prefix bounds a contiguous range of keys. */
    uint8_t a[IXK_MAX], b[IXK_MAX], c[IXK_MAX], p[IXK_MAX];
    ixk_skill(a, IX_WORKER, "weld", 4, "110105");
    ixk_skill(b, IX_WORKER, "weld", 4, "110108");
    ixk_skill(c, IX_WORKER, "weld", 4, "110201");
    cr_assert_lt(memcmp(a, b, n), 0);
    cr_assert_lt(memcmp(b, c, n), 0);
    static const struct {
        const char *pfx;
        uint32_t len;
        int a, b, c;
    } cases[] = {{"", 0, 1, 1, 1},       {"11", 2, 1, 1, 1},
                 {"1101", 4, 1, 1, 0},   {"110105", 6, 1, 0, 0},
                 {"12", 2, 0, 0, 0},     {"1102", 4, 0, 0, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t pl = ixk_skill_prefix(p, IX_WORKER, "weld", 4, cases[i].pfx,
                                     cases[i].len);
        cr_assert_eq(pl, 7 + cases[i].len);
        cr_assert_eq(ixk_has_prefix(a, n, p, pl), cases[i].a, "case %zu", i);
        cr_assert_eq(ixk_has_prefix(b, n, p, pl), cases[i].b, "case %zu", i);
        cr_assert_eq(ixk_has_prefix(c, n, p, pl), cases[i].c, "case %zu", i);
    }
}

Test(keys, minor_layout_and_order)
{
    cr_assert(ixk_has_minor(7));
    cr_assert(ixk_has_minor(10));
    cr_assert_not(ixk_has_minor(1));
    cr_assert_not(ixk_has_minor(4));
    uint8_t k10[IXK_MAX], k7[IXK_MAX];
    size_t n10 = ixk_minor(k10, IX_VACANCY, "6-05-02-03", "440305");
    size_t n7 = ixk_minor(k7, IX_VACANCY, "6-05-02", "440305");
    cr_assert_eq(n10, IXK_MINOR_LEN);
    cr_assert_eq(n7, 15);
    const uint8_t want[15] = {'M', 'V', '6', '-', '0', '5', '-', '0',
                              '2', '4', '4', '0', '3', '0', '5'};
    cr_assert(memcmp(k10, want, 15) == 0);
    cr_assert(memcmp(k7, want, 15) == 0, "one key per group and county");
    /* Values: match rank (the vacancy's education_min, brief byte 17),
     * docno, tail NUL-padded to 3, brief. */
    uint8_t brief[IXK_BRIEF_VACANCY], v10[IXK_VAL_MAX], v7[IXK_VAL_MAX];
    for (int i = 0; i < IXK_BRIEF_VACANCY; i++)
        brief[i] = (uint8_t)(0x30 + i);
    size_t vl = ixk_minor_val(v10, IX_VACANCY, 258, "6-05-02-03", 10, brief);
    cr_assert_eq(vl, 1 + 8 + 3 + IXK_BRIEF_VACANCY);
    cr_assert_eq(vl, ixk_minor_val_len(IX_VACANCY));
    cr_assert_eq(ixk_minor_val(v7, IX_VACANCY, 258, "6-05-02", 7, brief), vl);
    const uint8_t w10[12] = {0x30 + 17, 0, 0, 0, 0, 0, 0, 1, 2, '-', '0', '3'};
    const uint8_t w7[12] = {0x30 + 17, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0};
    cr_assert(memcmp(v10, w10, 12) == 0);
    cr_assert(memcmp(v7, w7, 12) == 0);
    cr_assert(memcmp(v10 + 12, brief, IXK_BRIEF_VACANCY) == 0);
    cr_assert_eq(ixk_minor_val(v7, IX_WORKER, 258, "6-05-02", 7, brief),
                 1 + 8 + 3 + IXK_BRIEF_WORKER);
    ixk_minor_val(v7, IX_VACANCY, 258, "6-05-02", 7, brief);
    /* One docno's 7-byte code sorts before its 10-byte codes, and all of
     * them before the next docno. */
    uint8_t nx[IXK_VAL_MAX];
    ixk_minor_val(nx, IX_VACANCY, 259, "6-05-02", 7, brief);
    cr_assert_lt(memcmp(v7, v10, vl), 0);
    cr_assert_lt(memcmp(v10, nx, vl), 0);
    uint8_t p[IXK_MAX];
    size_t pl = ixk_minor_prefix(p, IX_VACANCY, "6-05-02", "4403", 4);
    cr_assert_eq(pl, 13);
    cr_assert(ixk_has_prefix(k10, n10, p, pl));
    pl = ixk_minor_prefix(p, IX_VACANCY, "6-05-03", "", 0);
    cr_assert_not(ixk_has_prefix(k10, n10, p, pl));
    pl = ixk_minor_prefix(p, IX_WORKER, "6-05-02", "", 0);
    cr_assert_not(ixk_has_prefix(k10, n10, p, pl));
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
