/* guard.c - a structural check of untrusted msgpack bytes that allocates
 * nothing.
 *
 * The walk is iterative. An explicit stack holds, per open container, how
 * many elements it still owes; its size is bounded by the depth limit, so
 * neither deep nesting nor huge declared counts cost memory or recursion.
 * Each declared length or count is compared with the bytes that remain
 * before anything is descended into: an element takes at least one byte,
 * so a count larger than the bytes left (minus what the open containers
 * still owe) can never be satisfied and is refused at once.
 */
#include <inttypes.h>
#include <stdbool.h>

#include "guard.h"

/* The stack limit of the walk. A larger max_depth is clamped to it:
 * msgpack-c refuses deeper nesting anyway (its own stack holds 32). */
#define GUARD_STACK 64

/* Reads a big-endian unsigned integer of n (1, 2 or 4) bytes. */
static uint32_t read_be(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static bool is_map_head(uint8_t b)
{
    return (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
}

/* What an element header announces: raw payload bytes to skip (strings,
 * binaries, extensions, fixed-size numbers) or a container count. */
enum elem_kind { ELEM_SKIP, ELEM_ARRAY, ELEM_MAP };

int pr_guard_check(const uint8_t *body, size_t len, unsigned max_depth,
                   size_t *elements, pr_error_t *err)
{
    if (max_depth > GUARD_STACK)
        max_depth = GUARD_STACK;
    if (len == 0)
        return pr_fail(err, PR_BAD_FRAME, "body is empty");
    if (!is_map_head(body[0]))
        return pr_fail(err, PR_BAD_FRAME, "body is not a map");

    uint64_t owed[GUARD_STACK]; /* elements each open container still owes */
    unsigned depth = 0;         /* open containers on the stack */
    uint64_t pending = 0;       /* sum of owed[], one byte at least each */
    size_t pos = 0;
    size_t seen = 0;            /* elements begun */

    do {
        if (pos >= len)
            return pr_fail(err, PR_BAD_FRAME, "truncated");
        if (depth > 0) {
            owed[depth - 1]--;
            pending--;
        }
        uint8_t b = body[pos++];
        seen++;
        enum elem_kind kind = ELEM_SKIP;
        uint64_t n = 0;         /* bytes to skip, or container count */
        unsigned lenbytes = 0;  /* size of an explicit length field */
        const char *what = NULL;
        unsigned extra = 0;     /* the type byte of an extension */

        if (b <= 0x7f || b >= 0xe0) {
            /* positive and negative fixint */
        } else if (b <= 0x8f) {
            kind = ELEM_MAP;
            n = b & 0x0f;
        } else if (b <= 0x9f) {
            kind = ELEM_ARRAY;
            n = b & 0x0f;
        } else if (b <= 0xbf) {
            n = b & 0x1f;
            what = "string";
        } else {
            switch (b) {
            case 0xc0: case 0xc2: case 0xc3:
                break;
            case 0xc1:
                return pr_fail(err, PR_BAD_FRAME,
                               "invalid byte 0xc1 at offset %zu", pos - 1);
            case 0xc4: lenbytes = 1; what = "binary"; break;
            case 0xc5: lenbytes = 2; what = "binary"; break;
            case 0xc6: lenbytes = 4; what = "binary"; break;
            case 0xc7: lenbytes = 1; extra = 1; what = "extension"; break;
            case 0xc8: lenbytes = 2; extra = 1; what = "extension"; break;
            case 0xc9: lenbytes = 4; extra = 1; what = "extension"; break;
            case 0xca: n = 4; break;
            case 0xcb: n = 8; break;
            case 0xcc: case 0xd0: n = 1; break;
            case 0xcd: case 0xd1: n = 2; break;
            case 0xce: case 0xd2: n = 4; break;
            case 0xcf: case 0xd3: n = 8; break;
            case 0xd4: n = 2; break;   /* fixext: type byte + data */
            case 0xd5: n = 3; break;
            case 0xd6: n = 5; break;
            case 0xd7: n = 9; break;
            case 0xd8: n = 17; break;
            case 0xd9: lenbytes = 1; what = "string"; break;
            case 0xda: lenbytes = 2; what = "string"; break;
            case 0xdb: lenbytes = 4; what = "string"; break;
            case 0xdc: lenbytes = 2; kind = ELEM_ARRAY; break;
            case 0xdd: lenbytes = 4; kind = ELEM_ARRAY; break;
            case 0xde: lenbytes = 2; kind = ELEM_MAP; break;
            case 0xdf: lenbytes = 4; kind = ELEM_MAP; break;
            default:
                /* Every byte value is covered above; keep the compiler
                 * and any future reader honest. */
                return pr_fail(err, PR_BAD_FRAME,
                               "invalid byte 0x%02x at offset %zu", b,
                               pos - 1);
            }
        }
        if (lenbytes > 0) {
            if (len - pos < lenbytes)
                return pr_fail(err, PR_BAD_FRAME, "truncated");
            n = read_be(body + pos, lenbytes);
            pos += lenbytes;
        }

        size_t rem = len - pos;
        if (kind == ELEM_SKIP) {
            uint64_t skip = n + extra;
            if (skip > rem) {
                if (what != NULL)
                    return pr_fail(err, PR_BAD_FRAME,
                                   "declared %s of %" PRIu64
                                   " bytes exceeds the frame", what, n);
                return pr_fail(err, PR_BAD_FRAME, "truncated");
            }
            pos += (size_t)skip;
        } else {
            if (depth + 1 > max_depth)
                return pr_fail(err, PR_BAD_FRAME,
                               "nesting deeper than %u levels", max_depth);
            uint64_t elems = kind == ELEM_MAP ? n * 2 : n;
            /* Containers still open need one byte per owed element too;
             * if even they cannot be satisfied the body is cut short. */
            if (pending > rem)
                return pr_fail(err, PR_BAD_FRAME, "truncated");
            if (elems > rem - pending) {
                if (kind == ELEM_MAP)
                    return pr_fail(err, PR_BAD_FRAME,
                                   "declared map of %" PRIu64
                                   " entries exceeds the frame", n);
                return pr_fail(err, PR_BAD_FRAME,
                               "declared array of %" PRIu64
                               " elements exceeds the frame", n);
            }
            if (elems > 0) {
                owed[depth++] = elems;
                pending += elems;
            }
        }
        /* Close every container whose last element just ended. */
        while (depth > 0 && owed[depth - 1] == 0)
            depth--;
    } while (depth > 0);

    if (pos != len)
        return pr_fail(err, PR_BAD_FRAME,
                       "trailing bytes after the map (%zu)", len - pos);
    if (elements)
        *elements = seen;
    return 0;
}
