/* fuzz_frame.c - libFuzzer harness for the frame layer: the reassembling
 * reader, the structural guard and the request envelope.
 *
 * Input layout: byte 0 and 1 choose max_frame (16..8207 bytes, small so
 * that prefixes at and around the limit are easy to reach), byte 2 seeds
 * the chunk sizes, the rest is the byte stream a client sends. The stream
 * is fed to pr_reader_t in chunks of 1..64 bytes and every frame it hands
 * out is checked against a plain one-pass parse of the whole stream.
 *
 * Oracles, besides the sanitizers:
 * - the reader yields exactly the frames of the one-pass parse, in order,
 *   and fails exactly where the first prefix is out of range;
 * - its buffer never exceeds PR_FRAME_HEADER + max_frame bytes;
 * - a body the guard accepts is one msgpack map that msgpack-c decodes
 *   completely, and msgpack-c's memory for it stays within a small
 *   multiple of the body (the guard's promise);
 * - a body the guard refuses gets bad_frame with a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sanitizer/allocator_interface.h>

#include "error.h"
#include "frame.h"
#include "guard.h"
#include "message.h"

#define CONFIG_BYTES 3

/* msgpack-c needs at most one msgpack_object_kv (the largest object)
 * per two bytes of body, plus its zone's chunk slack; anything beyond this
 * many bytes per body byte means the guard let an allocation bomb through.
 * The heap is measured through the sanitizer allocator, which every
 * harness build links. */
#define DECODED_BYTES_PER_BODY_BYTE 64

static void
fail(const char *what)
{
    fprintf(stderr, "fuzz_frame: %s\n", what);
    abort();
}

/* Checks one body the reader handed out. */
static void
check_body(const uint8_t *body, uint32_t len)
{
    pr_error_t err = {0};
    if (pr_guard_check(body, len, PR_MAX_DEPTH, NULL, &err) != 0) {
        if (err.code != PR_BAD_FRAME || err.message[0] == '\0')
            fail("guard refused without a bad_frame message");
        return;
    }
    /* The guard accepted: msgpack-c must decode exactly one map. */
    size_t heap_before = __sanitizer_get_current_allocated_bytes();
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 1024))
        fail("out of memory");
    msgpack_object root;
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack((const char *)body, len, &off, &zone, &root);
    size_t decoded_bytes = __sanitizer_get_current_allocated_bytes() - heap_before;
    if (rc != MSGPACK_UNPACK_SUCCESS)
        fail("guard accepted a body msgpack-c cannot decode");
    if (off != len)
        fail("guard accepted trailing bytes");
    if (root.type != MSGPACK_OBJECT_MAP)
        fail("guard accepted a body that is not a map");
    if (decoded_bytes > (size_t)len * DECODED_BYTES_PER_BODY_BYTE + 65536)
        fail("decoding took far more memory than the body");

    /* The envelope decoder must give an answer either way, and a failure
     * must name a field. */
    pr_request_t rq;
    if (pr_request_decode(&root, &rq, &err) != 0) {
        if (err.code != PR_BAD_REQUEST || err.message[0] == '\0')
            fail("envelope refused without a bad_request message");
    } else {
        if (rq.op.ptr == NULL || rq.op.len == 0 || rq.op.len > 64)
            fail("envelope accepted an op outside 1..64 bytes");
        if (!pr_utf8_valid(rq.op.ptr, rq.op.len))
            fail("envelope accepted an op that is not UTF-8");
        if (rq.args == NULL || rq.args->type != MSGPACK_OBJECT_MAP)
            fail("envelope accepted args that are not a map");
    }
    msgpack_zone_destroy(&zone);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CONFIG_BYTES)
        return 0;
    uint32_t max_frame = 16 + (((uint32_t)data[0] << 8 | data[1]) % 8192);
    uint32_t chunk_state = data[2] | 1u;
    const uint8_t *stream = data + CONFIG_BYTES;
    size_t stream_len = size - CONFIG_BYTES;

    /* The one-pass reference: where each frame starts, and where the
     * stream turns bad, if it does. */
    size_t ref_pos = 0;
    int ref_failed = 0;

    pr_reader_t r;
    pr_reader_init(&r, max_frame);
    size_t fed = 0;
    int reader_failed = 0;
    while (!reader_failed) {
        const uint8_t *body;
        uint32_t len;
        int rc;
        while ((rc = pr_reader_next(&r, &body, &len)) == PR_FRAME_OK) {
            if (ref_failed || stream_len - ref_pos < PR_FRAME_HEADER)
                fail("reader yielded a frame the stream does not hold");
            uint32_t want;
            if (pr_frame_length(stream + ref_pos, max_frame, &want) != PR_FRAME_OK)
                fail("reader yielded a frame behind an out-of-range prefix");
            if (want != len || stream_len - ref_pos - PR_FRAME_HEADER < want ||
                memcmp(body, stream + ref_pos + PR_FRAME_HEADER, len) != 0)
                fail("reader yielded a frame that differs from the stream");
            ref_pos += PR_FRAME_HEADER + (size_t)len;
            check_body(body, len);
        }
        if (r.cap > PR_FRAME_HEADER + (size_t)max_frame)
            fail("reader buffer grew beyond one frame");
        if (rc == PR_FRAME_ERANGE) {
            reader_failed = 1;
            break;
        }
        if (fed == stream_len)
            break;
        /* Chunks of 1..64 bytes from a small xorshift. */
        chunk_state ^= chunk_state << 13;
        chunk_state ^= chunk_state >> 17;
        chunk_state ^= chunk_state << 5;
        size_t chunk = 1 + chunk_state % 64;
        if (chunk > stream_len - fed)
            chunk = stream_len - fed;
        size_t room = pr_reader_room(&r);
        if (room == 0)
            fail("no room although every whole frame was taken");
        if (chunk > room)
            chunk = room;
        if (pr_reader_feed(&r, stream + fed, chunk) != 0)
            fail("feed within the room failed");
        fed += chunk;
    }

    /* What the reference says about the rest of the stream. */
    if (!ref_failed && stream_len - ref_pos >= PR_FRAME_HEADER) {
        uint32_t len;
        if (pr_frame_length(stream + ref_pos, max_frame, &len) != PR_FRAME_OK)
            ref_failed = 1;
        else if (stream_len - ref_pos - PR_FRAME_HEADER >= len)
            fail("reader missed a whole frame");
    }
    if (ref_failed != reader_failed)
        fail("reader and stream disagree on a bad prefix");
    if (reader_failed && pr_reader_feed(&r, "x", 1) == 0)
        fail("a failed reader took more bytes");
    pr_reader_free(&r);
    return 0;
}
