/* wire.h - test helpers for the wire: building request arguments and
 * records, calling the daemon, reading replies, and raw socket frames.
 *
 * Builders write into a caller-owned msgpack_sbuffer (init and destroy are
 * the caller's). Readers of replies take msgpack objects owned by the
 * reply or zone they came from. Helpers that cannot proceed fail the
 * current Criterion test.
 */
#ifndef JM_TESTS_WIRE_H
#define JM_TESTS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "jobmatch.h"

/* ---- building ---------------------------------------------------------- */

/* Packs a NUL-terminated string. */
void jt_pack_str(msgpack_packer *pk, const char *s);

/* Packs a skills array from "id:level,id:level" ("" or NULL = empty). */
void jt_pack_skills(msgpack_packer *pk, const char *skills);

/* Packs a valid vacancy map with the given id, region (6 digits),
 * occupation (D-DD-DD-DD) and skills; employer and title are derived from
 * the id, every optional field is left to its default. */
void jt_pack_vacancy(msgpack_packer *pk, const char *id, const char *region,
                     const char *occupation, const char *skills);

/* Packs a valid worker map with the given id, region, desired occupations
 * ("6-05,2-02-01" or NULL) and skills; birth_year 1990, no personal
 * fields, every other optional field left to its default. */
void jt_pack_worker(msgpack_packer *pk, const char *id, const char *region,
                    const char *desired, const char *skills);

/* Writes {"vacancy": <jt_pack_vacancy(...)>} into sb. */
void jt_args_vacancy(msgpack_sbuffer *sb, const char *id, const char *region,
                     const char *occupation, const char *skills);
/* Writes {"worker": <jt_pack_worker(...)>} into sb. */
void jt_args_worker(msgpack_sbuffer *sb, const char *id, const char *region,
                    const char *desired, const char *skills);
/* Writes {"vacancies": [n vacancies]} into sb, the put_many of the
 * vacancies "<prefix>-0" .. "<prefix>-<n-1>" built by jt_pack_vacancy. */
void jt_args_vacancies(msgpack_sbuffer *sb, const char *prefix, int n,
                       const char *region, const char *occupation,
                       const char *skills);
/* Writes {"id": id} into sb. */
void jt_args_id(msgpack_sbuffer *sb, const char *id);

/* Packs a JSON value as msgpack: integers stay integers, other numbers
 * become float64, object keys keep their order. */
void jt_pack_json(msgpack_packer *pk, const json_t *j);

/* Packs the JSON text (printf-formatted) into sb as msgpack; integers stay
 * integers, other numbers become float64. Fails the test on bad JSON. The
 * test suite's own converter, so tests do not lean on libjobmatch's. */
void jt_args_json(msgpack_sbuffer *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A valid vacancy / worker as JSON object text (static storage, changes on
 * the next call), for tests that edit records with jansson. */
const char *jt_vacancy_json(const char *id);
const char *jt_worker_json(const char *id);

/* ---- calling ----------------------------------------------------------- */

/* Calls op with args (NULL sb = no args). Returns the reply, success or
 * server error alike; a transport failure fails the test. Caller frees the
 * reply with jm_reply_free(). */
jm_reply_t *jt_call(jm_client_t *c, const char *op, const msgpack_sbuffer *args);

/* jt_call with JSON args (printf-formatted; NULL fmt = no args). */
jm_reply_t *jt_call_json(jm_client_t *c, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fails the test unless r is a success; frees nothing. */
void jt_expect_ok(const jm_reply_t *r, const char *what);

/* Fails the test unless r is an error with the given code and, when
 * msg_part is non-NULL, a message containing msg_part. */
void jt_expect_error(const jm_reply_t *r, const char *code,
                     const char *msg_part);

/* Calls op and checks it succeeded; frees the reply. */
void jt_call_ok(jm_client_t *c, const char *op, const msgpack_sbuffer *args);

/* Puts a vacancy / worker built by jt_pack_vacancy / jt_pack_worker and
 * checks it succeeded. */
void jt_put_vacancy(jm_client_t *c, const char *id, const char *region,
                    const char *occupation, const char *skills);
void jt_put_worker(jm_client_t *c, const char *id, const char *region,
                   const char *desired, const char *skills);

/* Returns admin.info[key] (an unsigned count); c must be an admin. */
uint64_t jt_admin_count(jm_client_t *c, const char *key);

/* Runs admin.check (c must be an admin) and fails the test, naming what
 * and the report, unless the store is consistent. */
void jt_expect_check_clean(jm_client_t *c, const char *what);

/* Refers worker to vacancy (referral.create, with note unless it is
 * NULL), checks the referral answered, and returns its id (static
 * storage, overwritten by the next call). */
const char *jt_refer(jm_client_t *c, const char *worker, const char *vacancy,
                     const char *note);

/* Calls a match operation (op, its arguments as JSON), checks it
 * answered, and returns the ids of its matches comma-separated, in order
 * (static storage, overwritten by the next call). */
const char *jt_match_ids(jm_client_t *c, const char *op, const char *args_json);

/* ---- reading ----------------------------------------------------------- */

/* map[key], or NULL when map is not a map or has no such string key. */
const msgpack_object *jt_get(const msgpack_object *map, const char *key);

/* map[key] that must exist; fails the test otherwise. */
const msgpack_object *jt_need(const msgpack_object *map, const char *key);

/* True when o is a string equal to s. */
bool jt_str_is(const msgpack_object *o, const char *s);

/* map[key] as an integer / string / bool; fails the test on a missing key
 * or a wrong type. jt_get_str returns a copy in static storage that the
 * next call overwrites. */
int64_t jt_get_int(const msgpack_object *map, const char *key);
const char *jt_get_str(const msgpack_object *map, const char *key);
bool jt_get_bool(const msgpack_object *map, const char *key);

/* map[key] as a float64; fails the test on a missing key or any other
 * type (an integer does not count: the contract's floats are float64). */
double jt_get_double(const msgpack_object *map, const char *key);

/* Packs a string key followed by an integer / string value, for callers
 * building maps by hand. */
void jt_pack_kv_int(msgpack_packer *pk, const char *key, int64_t v);
void jt_pack_kv_str(msgpack_packer *pk, const char *key, const char *v);

/* ---- raw frames -------------------------------------------------------- */

/* Writes all len bytes to fd; fails the test on error. */
void jt_raw_send(int fd, const void *bytes, size_t len);

/* Sends an HTTP request (whole text) to host:port on a connection of its
 * own and returns the whole answer (status line, headers, body) once the
 * server closes; malloc'd, NUL-terminated. Reads time out after 10 s. */
char *jt_http(const char *host, int port, const char *request);

/* Sends body with a correct 4-byte big-endian length prefix. */
void jt_raw_send_frame(int fd, const void *body, size_t len);

/* Reads one reply frame and decodes it into *out (owned by zone, which
 * the caller initialised). Returns 0, 1 when the peer closed before a
 * whole frame, or -1 on a read error or timeout. */
int jt_raw_read_frame(int fd, msgpack_zone *zone, msgpack_object *out);

/* Reads the one reply a bad frame earns (id 0, ok false, bad_frame with a
 * message) and checks that the server then closes the connection; what
 * names the case in failure messages. */
void jt_raw_expect_bad_frame(int fd, const char *what);

/* True when the peer closed the connection (recv returns 0) within the
 * socket's read timeout, with no further bytes sent first. */
bool jt_raw_closed(int fd);

#endif
