/* jobmatch.h - libjobmatch, the synchronous C client of jobmatchd.
 *
 * One jm_client_t is one connection, used by one thread at a time.
 *
 *     jm_client_t *c = jm_connect("127.0.0.1:7411", &err);  // or "unix:/path"
 *     jm_hello(c, key, &reply);                              // optional
 *     jm_call_json(c, "vacancy.get", "{\"id\":\"v1\"}", &json, &err);
 *     jm_close(c);
 *
 * Errors: functions return 0 on success or a negative jm_status. A failed
 * call leaves c->err and c->errstr set until the next call. A server error
 * answer ({"ok": false}) is not a transport failure: jm_call and friends
 * return JM_ESERVER and the reply's error code and message are in the
 * reply (and copied to c->errstr as "code: message").
 *
 * Requests may be pipelined: jm_send() any number of requests, then
 * jm_recv() their replies, which come back in the order sent.
 */
#ifndef JOBMATCH_CLIENT_H
#define JOBMATCH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#ifdef __cplusplus
extern "C" {
#endif

enum jm_status {
    JM_OK = 0,
    JM_EIO = -1,        /* connect, read or write failed; the connection is dead */
    JM_EPROTO = -2,     /* the server sent something that is not a valid frame */
    JM_ESERVER = -3,    /* the server answered with an error (see the reply) */
    JM_EARG = -4,       /* bad argument (e.g. malformed JSON or address) */
    JM_ENOMEM = -5,
};

typedef struct jm_client {
    int err;             /* last enum jm_status, 0 after a success */
    char errstr[256];    /* its text */
    struct jm_client_priv *priv;
} jm_client_t;

/* A response. `result` (on success) is a msgpack object owned by the
 * reply; error_code / error_message (on failure) are NUL-terminated.
 * `error` (on failure) is the whole error map as the server sent it, so
 * callers can read keys beyond code and message (e.g. the per-record
 * "errors" array of a refused put_many); it is nil on success and, like
 * `result`, is owned by the reply's zone. Free with jm_reply_free. */
typedef struct jm_reply {
    uint64_t id;
    bool ok;
    msgpack_object result;       /* nil when !ok */
    char error_code[32];
    char error_message[256];
    msgpack_zone *zone;          /* owns result and error */
    msgpack_object error;        /* the error map when !ok, else nil */
} jm_reply_t;

/* Connects to "host:port", "[v6addr]:port" or "unix:/path". timeout_ms
 * bounds every later read and write (0 = no bound). Returns NULL on
 * failure, with the reason in errbuf when it is non-NULL. */
jm_client_t *jm_connect(const char *addr, int timeout_ms, char *errbuf,
                        size_t errlen);
void jm_close(jm_client_t *c);

/* The file descriptor, for poll() or shutdown() by the caller. */
int jm_fd(const jm_client_t *c);

/* Sends one request without waiting. args is a packed msgpack map (or
 * NULL for none). Returns 0 and the request id in *id_out (may be NULL). */
int jm_send(jm_client_t *c, const char *op, const void *args, size_t args_len,
            uint64_t *id_out);

/* Sends a frame of raw bytes as is (the length prefix is added), for
 * tests that speak bad protocol on purpose. */
int jm_send_raw(jm_client_t *c, const void *body, size_t len);

/* Reads the next reply. *out must be freed with jm_reply_free. Pushed
 * frames ({"id": 0, "push": ...}) are returned as replies with id 0,
 * ok = true and result = the whole pushed map (so "push" can be read).
 * An error answer returns JM_ESERVER with *out set (code and message in
 * the reply and in c->errstr); a transport or framing failure returns
 * JM_EIO or JM_EPROTO with *out NULL, and the connection is then dead. */
int jm_recv(jm_client_t *c, jm_reply_t **out);
void jm_reply_free(jm_reply_t *r);

/* jm_send + jm_recv. Returns JM_ESERVER (with *out set) when the server
 * answered an error. Pushed frames that arrive before the answer are
 * discarded. Call it only when no jm_send request is still unanswered: a
 * reply whose id is neither this request's nor 0 is JM_EPROTO. out may be
 * NULL when the caller needs only the status. */
int jm_call(jm_client_t *c, const char *op, const void *args,
            size_t args_len, jm_reply_t **out);

/* hello with an optional key (NULL = stay anonymous). On success the role
 * granted is copied to role (when non-NULL). */
int jm_hello(jm_client_t *c, const char *key, char *role, size_t role_len);

/* JSON convenience, for tools and scripts. args_json is a JSON object (or
 * NULL). On success *result_json is the result as JSON text (caller frees
 * with free()). On JM_ESERVER, c->errstr holds "code: message" and
 * *result_json is NULL. Binary msgpack strings are written as JSON strings;
 * msgpack maps with non-string keys are rejected. */
int jm_call_json(jm_client_t *c, const char *op, const char *args_json,
                 char **result_json);

/* Conversions used by jm_call_json, for callers that mix both worlds.
 * jm_json_to_msgpack appends the JSON text, packed, to sbuf (integers stay
 * integers within int64, numbers with a fraction or exponent become
 * float64, object keys keep their order). An object that repeats a key is
 * refused, as is a \u escape of half a surrogate pair alone; on any
 * error (JM_EARG, errbuf "line L column C: what") sbuf is left as it was.
 * jm_msgpack_to_json returns malloc'd JSON text or NULL. */
int jm_json_to_msgpack(const char *json, msgpack_sbuffer *sbuf, char *errbuf,
                       size_t errlen);
char *jm_msgpack_to_json(const msgpack_object *obj, bool pretty);

#ifdef __cplusplus
}
#endif

#endif
