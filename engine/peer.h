/* peer.h - the daemon's small blocking client of another jobmatchd, built
 * on protocol/ (the daemon does not link the client library): connect
 * within a bounded time, hello with a key, then one request at a time.
 * The follower of a peer (follow.h) and federated queries (federate.h)
 * use it from threads of their own, never from an event loop.
 *
 * Every failure returns -1 with a short reason in why (why_len bytes,
 * always NUL-terminated), e.g. "cannot connect: Connection refused",
 * "connection lost or timed out", "refused: <the peer's message>".
 */
#ifndef JM_ENGINE_PEER_H
#define JM_ENGINE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "message.h"

/* Connects to addr (host:port, [v6]:port too) and sets every later read
 * and write on the socket to time out after timeout_ms. Looking the host
 * up (on a thread of its own, which a slow DNS server may keep a while
 * after this returns) and connecting are bounded by timeout_ms together,
 * and abandoned as soon as cancelled(ctx) says so (looked at every
 * 100 ms; cancelled may be NULL). Returns the socket, or -1. */
int en_peer_connect(const char *addr, unsigned timeout_ms, bool (*cancelled)(void *),
                    void *ctx, char *why, size_t why_len);

/* Sets every later read and write on fd to time out after timeout_ms. */
void en_peer_set_timeout(int fd, unsigned timeout_ms);

/* Sends {"id": id, "op": op, "args": <args, one packed map>} and reads its
 * response (skipping pushed frames) into zone. On success *result is the
 * response's result. A response of more than max_response bytes, out of
 * order, malformed or refused is a failure. */
int en_peer_call(int fd, uint64_t id, const char *op, const msgpack_sbuffer *args,
                 uint32_t max_response, msgpack_zone *zone, const msgpack_object **result,
                 char *why, size_t why_len);

/* hello with key; *node and *role (pointing into zone) are what the peer
 * says this connection is. A peer naming no valid node id is a failure. */
int en_peer_hello(int fd, uint64_t id, const char *key, msgpack_zone *zone, pr_str_t *node,
                  pr_str_t *role, char *why, size_t why_len);

#endif
