/* frame.c - the length prefix and the reassembling frame reader.
 *
 * The reader keeps one buffer of received bytes. Frames are handed out as
 * pointers into it, and the consumed prefix is dropped (compacted) at the
 * next feed, so a long pipelined stream never makes the buffer creep. The
 * buffer grows only with bytes actually received and never beyond one
 * largest frame plus its header: a length prefix alone allocates nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* Initial allocation: large enough for typical requests, small enough
 * that an idle connection costs little. */
#define READER_INITIAL_CAP 4096u

int pr_frame_length(const uint8_t hdr[PR_FRAME_HEADER], uint32_t max_frame,
                    uint32_t *len)
{
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
                 (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3];
    *len = n;
    if (n == 0 || n > max_frame)
        return PR_FRAME_ERANGE;
    return PR_FRAME_OK;
}

void pr_frame_put_length(uint8_t hdr[PR_FRAME_HEADER], uint32_t len)
{
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
}

/* The most bytes the reader ever holds: one frame of the largest allowed
 * size with its prefix. */
static size_t reader_limit(const pr_reader_t *r)
{
    return PR_FRAME_HEADER + (size_t)r->max_frame;
}

void pr_reader_init(pr_reader_t *r, uint32_t max_frame)
{
    memset(r, 0, sizeof *r);
    r->max_frame = max_frame;
}

void pr_reader_free(pr_reader_t *r)
{
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = r->consumed = 0;
}

/* Moves the bytes not yet handed out to the start of the buffer. This is
 * only done in feed, because frames returned by pr_reader_next() stay
 * valid until then. */
static void reader_compact(pr_reader_t *r)
{
    if (r->consumed == 0)
        return;
    size_t rest = r->len - r->consumed;
    if (rest > 0)
        memmove(r->buf, r->buf + r->consumed, rest);
    r->len = rest;
    r->consumed = 0;
}

size_t pr_reader_room(const pr_reader_t *r)
{
    if (r->failed)
        return 0;
    return reader_limit(r) - (r->len - r->consumed);
}

int pr_reader_feed(pr_reader_t *r, const void *data, size_t len)
{
    if (r->failed)
        return -1;
    if (len == 0)
        return 0;
    reader_compact(r);
    size_t limit = reader_limit(r);
    if (len > limit - r->len)
        return -1;
    size_t need = r->len + len;
    if (need > r->cap) {
        size_t cap = r->cap ? r->cap : READER_INITIAL_CAP;
        while (cap < need)
            cap *= 2;
        if (cap > limit)
            cap = limit;
        uint8_t *nb = realloc(r->buf, cap);
        if (nb == NULL)
            return -1;
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return 0;
}

int pr_reader_next(pr_reader_t *r, const uint8_t **body, uint32_t *len)
{
    if (r->failed)
        return PR_FRAME_ERANGE;
    size_t avail = r->len - r->consumed;
    if (avail == 0) {
        /* Everything was handed out: start over at the front for free. */
        r->len = r->consumed = 0;
        return PR_FRAME_AGAIN;
    }
    if (avail < PR_FRAME_HEADER)
        return PR_FRAME_AGAIN;
    uint32_t n;
    if (pr_frame_length(r->buf + r->consumed, r->max_frame, &n) !=
        PR_FRAME_OK) {
        /* The stream cannot be resynchronised after a bad prefix. */
        r->failed = 1;
        return PR_FRAME_ERANGE;
    }
    if (avail - PR_FRAME_HEADER < n)
        return PR_FRAME_AGAIN;
    *body = r->buf + r->consumed + PR_FRAME_HEADER;
    *len = n;
    r->consumed += PR_FRAME_HEADER + (size_t)n;
    return PR_FRAME_OK;
}
