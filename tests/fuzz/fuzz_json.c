/* fuzz_json.c - libFuzzer harness for the client library's JSON to msgpack
 * conversion (jm_json_to_msgpack), which reads what people type into the
 * command-line client and what the kiosk's page posts.
 *
 * Input: JSON text (up to its first NUL byte).
 *
 * Oracles, besides the sanitizers:
 * - a conversion that succeeds appends exactly one msgpack object, which
 *   msgpack-c decodes to the last byte (when it nests less deep than
 *   msgpack-c's unpacker goes);
 * - that object written back as JSON (jm_msgpack_to_json) converts to the
 *   same bytes again: numbers, strings, key order and container forms
 *   survive the round trip;
 * - a conversion that fails leaves the buffer as it was and says where,
 *   "line L column C: what".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "jobmatch.h"

/* The containers msgpack-c's unpacker can hold open (its
 * MSGPACK_EMBED_STACK_SIZE, not in its public C headers). */
#define UNPACK_DEPTH_MAX 32

/* How deep the JSON text's arrays and objects nest. */
static int
nesting(const char *s)
{
    int depth = 0, most = 0;
    bool in_string = false;
    for (; *s; s++) {
        if (in_string) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == '"')
                in_string = false;
        } else if (*s == '"') {
            in_string = true;
        } else if (*s == '[' || *s == '{') {
            if (++depth > most)
                most = depth;
        } else if (*s == ']' || *s == '}') {
            depth--;
        }
    }
    return most;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    /* A byte already there: the conversion appends after it. */
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    char err[256];
    int rc = jm_json_to_msgpack(text, &sb, err, sizeof err);
    if (rc != 0) {
        if (sb.size != 1 || strncmp(err, "line ", 5) != 0) {
            fprintf(stderr, "failed conversion: size %zu, error [%s]\n", sb.size, err);
            abort();
        }
    } else if (nesting(text) < UNPACK_DEPTH_MAX) {
        msgpack_zone zone;
        msgpack_object obj;
        size_t off = 1;
        msgpack_zone_init(&zone, 4096);
        if (msgpack_unpack(sb.data, sb.size, &off, &zone, &obj) != MSGPACK_UNPACK_SUCCESS ||
            off != sb.size) {
            fprintf(stderr, "output is not one msgpack object\n");
            abort();
        }
        char *back = jm_msgpack_to_json(&obj, false);
        if (!back) {
            fprintf(stderr, "output does not print as JSON\n");
            abort();
        }
        msgpack_sbuffer again;
        msgpack_sbuffer_init(&again);
        if (jm_json_to_msgpack(back, &again, err, sizeof err) != 0 ||
            again.size != sb.size - 1 || memcmp(again.data, sb.data + 1, again.size) != 0) {
            fprintf(stderr, "round trip differs: %s (%s)\n", back, err);
            abort();
        }
        msgpack_sbuffer_destroy(&again);
        free(back);
        msgpack_zone_destroy(&zone);
    }
    msgpack_sbuffer_destroy(&sb);
    free(text);
    return 0;
}
