/* upstream.h - the kiosk's one connection to jobmatchd, through
 * libjobmatch, with the kiosk role and never more.
 *
 * The connection is opened when first needed and opened again after the
 * daemon went away, so a kiosk started before its daemon, or outliving a
 * restart, needs no care. Every call is a read, so a call that failed on a
 * dead connection is retried once on a new one.
 */
#ifndef JM_KIOSK_UPSTREAM_H
#define JM_KIOSK_UPSTREAM_H

#include <jansson.h>
#include <stddef.h>

enum upstream_status {
    UP_OK = 0,
    UP_DOWN = -1,    /* the daemon cannot be reached (err says why) */
    UP_REFUSED = -2, /* the daemon answered an error (code and message set) */
    UP_ROLE = -3,    /* the key or anonymous role is not kiosk: nothing is asked */
};

typedef struct upstream upstream_t;

typedef struct upstream_error {
    char code[32];     /* the daemon's error code, or "daemon_down", "wrong_role" */
    char message[320];
} upstream_error_t;

/* addr as for jm_connect(); key NULL to stay anonymous. Nothing is
 * connected yet. */
upstream_t *upstream_new(const char *addr, const char *key, int timeout_ms);
void upstream_free(upstream_t *u);

/* Connects now (when not connected) and checks the role. */
int upstream_check(upstream_t *u, upstream_error_t *err);

/* Calls op with args (a JSON object, borrowed). On UP_OK *result is the
 * result (caller decrefs). */
int upstream_call(upstream_t *u, const char *op, json_t *args, json_t **result,
                  upstream_error_t *err);

/* Sends every request of ops/args at once and reads their replies, in one
 * round trip. results[i] is the result or NULL when request i failed with
 * a daemon error. Returns UP_OK or the failure that stopped the batch. */
int upstream_call_many(upstream_t *u, const char *op, json_t *const *args,
                       size_t n, json_t **results, upstream_error_t *err);

/* The daemon's address, for messages. */
const char *upstream_addr(const upstream_t *u);

#endif
