/* guard.h - structural check of an untrusted msgpack body before any
 * decoder allocates for it.
 *
 * msgpack-c's unpacker reserves memory from declared array, map and string
 * counts before the data arrives (a body `dd 07 ff ff ff` asks for 3 GiB).
 * pr_guard_check() walks the bytes without allocating and accepts the body
 * only when it holds exactly one msgpack map, every declared length fits in
 * the bytes that remain, and nesting stays within max_depth. After it
 * succeeds, msgpack-c allocates at most a small multiple of the body size.
 */
#ifndef JM_PROTOCOL_GUARD_H
#define JM_PROTOCOL_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The deepest nesting accepted; the top-level map is depth 1. It matches
 * msgpack-c's own parse stack, so nothing the guard accepts is refused by
 * msgpack-c afterwards. */
#define PR_MAX_DEPTH 32

/* Returns 0 when body[0..len) is one well-formed msgpack map within the
 * limits above, else -1 with err->code = PR_BAD_FRAME and a message saying
 * what is wrong ("declared string length exceeds the frame", "nesting deeper
 * than 32", "trailing bytes after the map", "body is not a map", ...).
 * When elements is not NULL it receives the number of msgpack values in
 * the body (the map itself, and each key and value of a map counted
 * apart): msgpack-c decodes each into one msgpack_object, so this is what
 * the decoded form holds, besides strings it references in the body. */
int pr_guard_check(const uint8_t *body, size_t len, unsigned max_depth,
                   size_t *elements, pr_error_t *err);

#endif
