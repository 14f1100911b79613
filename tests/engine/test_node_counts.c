/* test_node_counts.c - a peer's match.counts answer as the coordinator reads
 * it: too many origins refused before anything is allocated for them, a
 * df above its open refused, and sums over the union that stop at
 * INT64_MAX instead of wrapping. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "node_counts.h"

/* {"node": "peer", "origins": [n x {"origin": "o-<i>", "open": open, "df": [df]}]} */
static void
pack_answer(msgpack_sbuffer *sb, uint32_t n, uint64_t open, uint64_t df)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "node", 4);
    msgpack_pack_str_with_body(&pk, "peer", 4);
    msgpack_pack_str_with_body(&pk, "origins", 7);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        char origin[32];
        int len = snprintf(origin, sizeof origin, "o-%u", i);
        msgpack_pack_map(&pk, 3);
        msgpack_pack_str_with_body(&pk, "origin", 6);
        msgpack_pack_str_with_body(&pk, origin, (size_t)len);
        msgpack_pack_str_with_body(&pk, "open", 4);
        msgpack_pack_uint64(&pk, open);
        msgpack_pack_str_with_body(&pk, "df", 2);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_uint64(&pk, df);
    }
}

static int
decode(uint32_t n, uint64_t open, uint64_t df, en_node_counts_t *out)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_answer(&sb, n, open, df);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    int rc = en_node_counts_decode(&u.data, 1, out);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

Test(node_counts, origins_up_to_the_bound_are_read)
{
    en_node_counts_t c;
    cr_assert_eq(decode(EN_COUNTS_ORIGINS_MAX, 7, 3, &c), 0);
    cr_assert_eq(c.n, EN_COUNTS_ORIGINS_MAX);
    cr_assert_str_eq(c.o[EN_COUNTS_ORIGINS_MAX - 1].origin, "o-1023");
    cr_assert_eq(c.o[0].open, 7);
    cr_assert_eq(c.o[0].df[0], 3);
    en_node_counts_free(&c);
}

Test(node_counts, more_origins_than_the_bound_are_refused)
{
    en_node_counts_t c;
    cr_assert_eq(decode(EN_COUNTS_ORIGINS_MAX + 1, 7, 3, &c), -E2BIG);
    cr_assert_eq(c.n, 0);
    cr_assert_null(c.o);
}

Test(node_counts, a_df_above_its_open_is_refused)
{
    en_node_counts_t c;
    cr_assert_eq(decode(1, 2, 3, &c), -1);
    cr_assert_eq(c.n, 0);
}

/* Two peers each claiming INT64_MAX open vacancies of origins of their
 * own: the sum stops at INT64_MAX (what network_counts accepts). */
Test(node_counts, the_union_saturates_instead_of_wrapping)
{
    en_node_counts_t a, b;
    cr_assert_eq(decode(3, INT64_MAX, INT64_MAX, &a), 0);
    cr_assert_eq(decode(3, INT64_MAX, INT64_MAX - 1, &b), 0);
    /* Origins of b not in a: rename them. */
    for (uint32_t i = 0; i < b.n; i++)
        b.o[i].origin[0] = 'x';
    const en_node_counts_t *c[2] = {&a, &b};
    const char *node[2] = {"peer-a", "peer-b"};
    uint64_t n, df[1];
    en_node_counts_union(c, node, 2, 1, &n, df);
    cr_assert_eq(n, (uint64_t)INT64_MAX);
    cr_assert_eq(df[0], (uint64_t)INT64_MAX);
    en_node_counts_free(&a);
    en_node_counts_free(&b);
}

Test(node_counts, the_union_adds_each_origin_once)
{
    en_node_counts_t a, b;
    cr_assert_eq(decode(2, 10, 4, &a), 0);
    cr_assert_eq(decode(2, 12, 5, &b), 0);  /* the same origins, fresher copies */
    const en_node_counts_t *c[2] = {&a, &b};
    const char *node[2] = {"peer-a", "peer-b"};
    uint64_t n, df[1];
    en_node_counts_union(c, node, 2, 1, &n, df);
    cr_assert_eq(n, 24);
    cr_assert_eq(df[0], 10);
    en_node_counts_free(&a);
    en_node_counts_free(&b);
}
