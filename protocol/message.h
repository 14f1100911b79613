/* message.h - the request/response envelope and typed access to request
 * arguments.
 *
 * Decoding works on msgpack_object trees produced by msgpack-c from a body
 * that pr_guard_check() accepted. Nothing here copies: strings point into
 * the msgpack zone that owns the tree, and stay valid as long as it does.
 *
 * Every getter takes the field's path for messages ("args.limit",
 * "vacancy.skills[3].id") and returns 0 on success, 1 when an optional
 * field is absent (out untouched), -1 with err filled (PR_BAD_REQUEST)
 * when the field is missing-but-required, mistyped, out of range or not
 * valid UTF-8.
 */
#ifndef JM_PROTOCOL_MESSAGE_H
#define JM_PROTOCOL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "error.h"

/* A byte string that is not NUL-terminated. ptr is NULL when absent. */
typedef struct pr_str {
    const char *ptr;
    uint32_t len;
} pr_str_t;

/* Compares a pr_str_t with a C string. */
bool pr_str_eq(pr_str_t s, const char *cstr);

/* A decoded request envelope. */
typedef struct pr_request {
    uint64_t id;                 /* 0 when the request carried no usable id */
    pr_str_t op;
    const msgpack_object *args;  /* a map; an empty static map when absent */
} pr_request_t;

/* Decodes the envelope of root (a map). On failure err says why and
 * req->id still holds the id when one could be read, so the error can be
 * answered to the right request. Missing or mistyped id -> PR_BAD_REQUEST
 * naming "id"; missing/mistyped op -> "op"; args not a map -> "args". */
int pr_request_decode(const msgpack_object *root, pr_request_t *req,
                      pr_error_t *err);

/* Looks up key in a map object; NULL when absent or map is not a map. */
const msgpack_object *pr_map_get(const msgpack_object *map, const char *key);
/* The same, also NULL when the value is nil: in requests and records a
 * missing key and a nil value mean the same (docs/protocol.md 2.2). */
const msgpack_object *pr_map_value(const msgpack_object *map, const char *key);

/* Field flags. */
#define PR_REQUIRED 1u

/* A string of min..max bytes of valid UTF-8. */
int pr_get_str(const msgpack_object *map, const char *key, const char *path,
               unsigned flags, uint32_t min, uint32_t max, pr_str_t *out,
               pr_error_t *err);

/* An integer in [min, max]. Floats and other types are mistyped. */
int pr_get_int(const msgpack_object *map, const char *key, const char *path,
               unsigned flags, int64_t min, int64_t max, int64_t *out,
               pr_error_t *err);

int pr_get_bool(const msgpack_object *map, const char *key, const char *path,
                unsigned flags, bool *out, pr_error_t *err);

/* Returns true when s is valid UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool pr_utf8_valid(const char *s, size_t len);

/* Response encoding. Each writes one complete msgpack map (the frame body,
 * without length prefix) to pk.
 *
 * pr_pack_ok_begin writes {"id": id, "ok": true, "result": and leaves the
 * packer expecting exactly one more object, the result. */
void pr_pack_ok_begin(msgpack_packer *pk, uint64_t id);
void pr_pack_error(msgpack_packer *pk, uint64_t id, const pr_error_t *err);

/* Packs a NUL-terminated or counted string. */
void pr_pack_cstr(msgpack_packer *pk, const char *s);
void pr_pack_str(msgpack_packer *pk, pr_str_t s);

#endif
