/* test_frame.c - the length prefix and the reassembling frame reader:
 * every length edge, split and merged reads, and the buffer bound. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* Appends one frame with a body of n bytes, each (seed + i) & 0xff, to
 * out at *pos. */
static void put_frame(uint8_t *out, size_t *pos, uint32_t n, uint8_t seed)
{
    pr_frame_put_length(out + *pos, n);
    *pos += PR_FRAME_HEADER;
    for (uint32_t i = 0; i < n; i++)
        out[(*pos)++] = (uint8_t)(seed + i);
}

static void check_body(const uint8_t *body, uint32_t len, uint32_t n,
                       uint8_t seed)
{
    cr_assert_eq(len, n);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(body[i], (uint8_t)(seed + i), "byte %u", i);
}

Test(frame, length_edges)
{
    uint8_t hdr[4];
    uint32_t n = 12345;
    const uint32_t max = 1000;

    pr_frame_put_length(hdr, 0);
    cr_assert_eq(pr_frame_length(hdr, max, &n), PR_FRAME_ERANGE);
    cr_assert_eq(n, 0);

    pr_frame_put_length(hdr, 1);
    cr_assert_eq(pr_frame_length(hdr, max, &n), PR_FRAME_OK);
    cr_assert_eq(n, 1);

    pr_frame_put_length(hdr, max);
    cr_assert_eq(pr_frame_length(hdr, max, &n), PR_FRAME_OK);
    cr_assert_eq(n, max);

    pr_frame_put_length(hdr, max + 1);
    cr_assert_eq(pr_frame_length(hdr, max, &n), PR_FRAME_ERANGE);
    cr_assert_eq(n, max + 1);

    pr_frame_put_length(hdr, 0xFFFFFFFFu);
    cr_assert_eq(pr_frame_length(hdr, max, &n), PR_FRAME_ERANGE);
    cr_assert_eq(n, 0xFFFFFFFFu);
    cr_assert_eq(pr_frame_length(hdr, 0xFFFFFFFFu, &n), PR_FRAME_OK);
}

Test(frame, put_length_is_big_endian)
{
    uint8_t hdr[4];
    pr_frame_put_length(hdr, 0x01020304u);
    cr_assert_eq(hdr[0], 1);
    cr_assert_eq(hdr[1], 2);
    cr_assert_eq(hdr[2], 3);
    cr_assert_eq(hdr[3], 4);
    uint32_t n;
    cr_assert_eq(pr_frame_length(hdr, PR_DEFAULT_MAX_FRAME, &n),
                 PR_FRAME_ERANGE);
    cr_assert_eq(n, 0x01020304u);
}

Test(frame, single_frame_then_again)
{
    pr_reader_t r;
    pr_reader_init(&r, 100);
    uint8_t buf[64];
    size_t pos = 0;
    put_frame(buf, &pos, 10, 7);
    cr_assert_eq(pr_reader_feed(&r, buf, pos), 0);
    const uint8_t *body;
    uint32_t len;
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_OK);
    check_body(body, len, 10, 7);
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_AGAIN);
    pr_reader_free(&r);
}

Test(frame, empty_reader_and_empty_feed)
{
    pr_reader_t r;
    pr_reader_init(&r, 100);
    const uint8_t *body;
    uint32_t len;
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_AGAIN);
    cr_assert_eq(pr_reader_feed(&r, "", 0), 0);
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_AGAIN);
    pr_reader_free(&r);
}

Test(frame, split_byte_by_byte)
{
    pr_reader_t r;
    pr_reader_init(&r, 300);
    uint8_t buf[1024];
    size_t pos = 0;
    const uint32_t sizes[] = {1, 2, 255, 300, 3, 17};
    for (size_t i = 0; i < 6; i++)
        put_frame(buf, &pos, sizes[i], (uint8_t)(i * 31));

    size_t got = 0;
    for (size_t i = 0; i < pos; i++) {
        cr_assert_eq(pr_reader_feed(&r, buf + i, 1), 0);
        const uint8_t *body;
        uint32_t len;
        int rc;
        while ((rc = pr_reader_next(&r, &body, &len)) == PR_FRAME_OK) {
            cr_assert_lt(got, 6);
            check_body(body, len, sizes[got], (uint8_t)(got * 31));
            got++;
        }
        cr_assert_eq(rc, PR_FRAME_AGAIN);
    }
    cr_assert_eq(got, 6);
    pr_reader_free(&r);
}

Test(frame, merged_frames_in_one_feed)
{
    pr_reader_t r;
    pr_reader_init(&r, 1000);
    uint8_t buf[1000];
    size_t pos = 0;
    for (int i = 0; i < 20; i++)
        put_frame(buf, &pos, (uint32_t)(i + 1), (uint8_t)i);
    /* Half a frame more at the end stays buffered. */
    size_t whole = pos;
    put_frame(buf, &pos, 50, 99);
    cr_assert_eq(pr_reader_feed(&r, buf, whole + 20), 0);

    const uint8_t *body;
    uint32_t len;
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_OK);
        check_body(body, len, (uint32_t)(i + 1), (uint8_t)i);
    }
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_AGAIN);
    cr_assert_eq(pr_reader_feed(&r, buf + whole + 20, pos - whole - 20), 0);
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_OK);
    check_body(body, len, 50, 99);
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_AGAIN);
    pr_reader_free(&r);
}

Test(frame, zero_prefix_fails_for_good)
{
    pr_reader_t r;
    pr_reader_init(&r, 100);
    uint8_t buf[16] = {0, 0, 0, 0, 0, 0, 0, 1, 0x80};
    cr_assert_eq(pr_reader_feed(&r, buf, 9), 0);
    const uint8_t *body;
    uint32_t len;
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_ERANGE);
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_ERANGE);
    cr_assert_eq(pr_reader_feed(&r, buf, 1), -1);
    cr_assert_eq(pr_reader_room(&r), 0);
    pr_reader_free(&r);
}

Test(frame, oversized_prefix_fails_before_the_body_arrives)
{
    const uint32_t claims[] = {101, 0x7FFFFFFFu, 0xFFFFFFFFu};
    for (int i = 0; i < 3; i++) {
        pr_reader_t r;
        pr_reader_init(&r, 100);
        uint8_t hdr[4];
        pr_frame_put_length(hdr, claims[i]);
        cr_assert_eq(pr_reader_feed(&r, hdr, 4), 0);
        const uint8_t *body;
        uint32_t len;
        cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_ERANGE);
        /* Nothing was reserved for the claimed body. */
        cr_assert_leq(r.cap, PR_FRAME_HEADER + 100);
        cr_assert_eq(pr_reader_feed(&r, hdr, 4), -1);
        pr_reader_free(&r);
    }
}

Test(frame, largest_frame_fits_exactly)
{
    const uint32_t max = 5000;
    pr_reader_t r;
    pr_reader_init(&r, max);
    uint8_t *buf = malloc(PR_FRAME_HEADER + max + 1);
    size_t pos = 0;
    put_frame(buf, &pos, max, 3);
    cr_assert_eq(pr_reader_room(&r), PR_FRAME_HEADER + max);
    cr_assert_eq(pr_reader_feed(&r, buf, pos), 0);
    cr_assert_eq(pr_reader_room(&r), 0);
    cr_assert_leq(r.cap, PR_FRAME_HEADER + max);
    const uint8_t *body;
    uint32_t len;
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_OK);
    check_body(body, len, max, 3);
    cr_assert_eq(pr_reader_room(&r), PR_FRAME_HEADER + max);
    free(buf);
    pr_reader_free(&r);
}

Test(frame, feed_beyond_the_bound_is_refused)
{
    const uint32_t max = 64;
    pr_reader_t r;
    pr_reader_init(&r, max);
    uint8_t buf[256];
    memset(buf, 0, sizeof buf);
    pr_frame_put_length(buf, max);
    /* One byte more than a whole largest frame. */
    cr_assert_eq(pr_reader_feed(&r, buf, PR_FRAME_HEADER + max + 1), -1);
    cr_assert_eq(r.len, 0);
    /* The refusal is not fatal: what fits is accepted. */
    cr_assert_eq(pr_reader_feed(&r, buf, 10), 0);
    cr_assert_eq(pr_reader_room(&r), PR_FRAME_HEADER + max - 10);
    cr_assert_eq(pr_reader_feed(&r, buf, pr_reader_room(&r) + 1), -1);
    cr_assert_eq(pr_reader_feed(&r, buf + 10, PR_FRAME_HEADER + max - 10),
                 0);
    cr_assert_leq(r.cap, PR_FRAME_HEADER + max);
    const uint8_t *body;
    uint32_t len;
    cr_assert_eq(pr_reader_next(&r, &body, &len), PR_FRAME_OK);
    cr_assert_eq(len, max);
    pr_reader_free(&r);
}

/* A long pipelined stream fed in odd-sized chunks: the buffer is compacted
 * and stays small, and every frame comes out intact and in order. */
Test(frame, long_stream_stays_compact)
{
    const uint32_t max = 1u << 20;
    pr_reader_t r;
    pr_reader_init(&r, max);
    size_t total = 2000 * (PR_FRAME_HEADER + 100);
    uint8_t *buf = malloc(total);
    size_t pos = 0;
    for (int i = 0; i < 2000; i++)
        put_frame(buf, &pos, 60 + (uint32_t)(i % 41), (uint8_t)i);

    srand(42);
    size_t off = 0;
    int got = 0;
    size_t max_cap = 0;
    while (off < pos) {
        size_t chunk = 1 + (size_t)(rand() % 300);
        if (chunk > pos - off)
            chunk = pos - off;
        if (chunk > pr_reader_room(&r))
            chunk = pr_reader_room(&r);
        cr_assert_eq(pr_reader_feed(&r, buf + off, chunk), 0);
        off += chunk;
        const uint8_t *body;
        uint32_t len;
        while (pr_reader_next(&r, &body, &len) == PR_FRAME_OK) {
            check_body(body, len, 60 + (uint32_t)(got % 41), (uint8_t)got);
            got++;
        }
        if (r.cap > max_cap)
            max_cap = r.cap;
    }
    cr_assert_eq(got, 2000);
    cr_assert_leq(max_cap, 4096, "buffer grew to %zu", max_cap);
    free(buf);
    pr_reader_free(&r);
}

/* Bytes that arrive after a frame was taken do not disturb a frame still
 * held; the body pointer stays valid until the next feed. */
Test(frame, body_valid_until_next_feed)
{
    pr_reader_t r;
    pr_reader_init(&r, 100);
    uint8_t buf[64];
    size_t pos = 0;
    put_frame(buf, &pos, 5, 1);
    put_frame(buf, &pos, 6, 2);
    cr_assert_eq(pr_reader_feed(&r, buf, pos), 0);
    const uint8_t *a, *b;
    uint32_t la, lb;
    cr_assert_eq(pr_reader_next(&r, &a, &la), PR_FRAME_OK);
    cr_assert_eq(pr_reader_next(&r, &b, &lb), PR_FRAME_OK);
    check_body(a, la, 5, 1);
    check_body(b, lb, 6, 2);
    pr_reader_free(&r);
}

Test(frame, max_frame_prefix_boundaries_in_reader)
{
    const uint32_t max = 10;
    for (uint32_t n = 0; n <= max + 1; n++) {
        pr_reader_t r;
        pr_reader_init(&r, max);
        uint8_t buf[32] = {0};
        pr_frame_put_length(buf, n);
        cr_assert_eq(pr_reader_feed(&r, buf, PR_FRAME_HEADER + (n <= max ? n : 0)), 0);
        const uint8_t *body;
        uint32_t len;
        int rc = pr_reader_next(&r, &body, &len);
        if (n == 0 || n > max)
            cr_assert_eq(rc, PR_FRAME_ERANGE, "n=%u", n);
        else
            cr_assert(rc == PR_FRAME_OK && len == n, "n=%u", n);
        pr_reader_free(&r);
    }
}
