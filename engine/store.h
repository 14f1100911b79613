/* store.h - domain records in the index: turns validated protocol records
 * into indexed documents and back.
 *
 * Writes run on the writer thread inside its transaction; reads on any
 * thread inside a read transaction.
 *
 * Workers: the stored value is the worker's canonical msgpack without its
 * personal fields (name, national_id, phone), followed, when it has any,
 * by one msgpack bin holding them sealed (seal.h) with the worker's kind
 * and id as associated data. The functions below are the only ones that
 * write or read a stored worker: anything that rewrites a worker (a put,
 * a hire that sets it employed, ...) reads it with en_store_load_worker
 * and writes it back with en_store_put_worker, and anything that answers
 * with a stored worker packs it with en_store_pack_worker, so personal
 * fields are sealed on the way in and opened on the way out, always.
 * Their errors beyond the index's: -EPERM (personal fields but no key to
 * seal them), -ENOKEY (sealed under a key the sealer does not hold),
 * -EBADMSG (a sealed value that does not authenticate: altered, or moved
 * from another record), -EIO (stored bytes that do not decode).
 */
#ifndef JM_ENGINE_STORE_H
#define JM_ENGINE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "index.h"
#include "record.h"
#include "referral.h"
#include "seal.h"

/* Why a vacancy is written: a client's put, a copy of another node's
 * vacancy (a follower's, whose openings the index keeps apart), a change
 * of its state alone (filled, status) that this server makes (a hire, a
 * close), or a copy that its origin changed so. The last two raise no
 * match alert (docs/alerts.md). */
typedef enum en_vacancy_write {
    EN_VACANCY_PUT,
    EN_VACANCY_COPY,
    EN_VACANCY_STATE,
    EN_VACANCY_COPY_STATE,
} en_vacancy_write_t;

/* Inserts or replaces v as it is, `filled` included, which a client cannot
 * set: a put takes it from the stored vacancy (en_store_vacancy_origin),
 * the server's own changes from the vacancy it loaded, and copies from
 * their origin. sbuf is scratch. Returns 0 or a negative errno from the
 * index. */
int en_store_rewrite_vacancy(ix_txn_t *txn, const pr_vacancy_t *v, en_vacancy_write_t why,
                             int64_t now, msgpack_sbuffer *sbuf, bool *created);

/* Copies the origin node of stored vacancy id into out (NUL-terminated;
 * "" for a vacancy stored before vacancies had origins, which is this
 * node's own), and its filled count into *filled when filled is not NULL.
 * -ENOENT when absent, -EIO when the stored bytes do not decode. */
int en_store_vacancy_origin(ix_txn_t *txn, const char *id, uint32_t id_len,
                            char out[PR_ID_MAX + 1], int64_t *filled);

/* Inserts or replaces w, sealing its personal fields with sealer (which
 * may be NULL only when w has none). */
int en_store_put_worker(ix_txn_t *txn, const en_sealer_t *sealer,
                        const pr_worker_t *w, int64_t now,
                        msgpack_sbuffer *sbuf, bool *created);

/* Reads a stored vacancy and decodes it into *out, whose strings live in
 * zone. -ENOENT when absent, -EIO when the stored bytes do not decode. */
int en_store_load_vacancy(ix_txn_t *txn, const char *id, uint32_t id_len,
                          msgpack_zone *zone, pr_vacancy_t *out);

/* Reads a stored worker with its personal fields opened into *out, whose
 * strings live in zone. -ENOENT when absent. */
int en_store_load_worker(ix_txn_t *txn, const en_sealer_t *sealer,
                         const char *id, uint32_t id_len, msgpack_zone *zone,
                         pr_worker_t *out);

/* Decodes the worker of a record read from the index (e.g. by ix_list)
 * into *out; its personal fields only when with_personal. */
int en_store_decode_worker(const en_sealer_t *sealer, const ix_record_t *rec,
                           bool with_personal, msgpack_zone *zone,
                           pr_worker_t *out);

/* Packs the worker of rec as the wire shows it: its canonical msgpack,
 * with the personal fields only when with_personal. Reads rec's id and
 * value only. zone is scratch. */
int en_store_pack_worker(msgpack_packer *pk, const en_sealer_t *sealer,
                         const ix_record_t *rec, bool with_personal,
                         msgpack_zone *zone);

/* Referrals: a counselor's note may say anything about the worker, so
 * each event's note is stored sealed, as a msgpack bin, with the
 * referral's number and the event's place in its history as associated
 * data. Notes stored in clear before they were sealed still read, and are
 * sealed when their referral is next written.
 *
 * Packs r as stored, its notes sealed with sealer. Without a sealer the
 * notes are packed as they are: a server without a key refuses new notes
 * (ops_referrals.c, ops_fair.c), so these can only be notes an earlier
 * version stored in clear, kept so that their referral can still move. */
int en_store_pack_referral(msgpack_packer *pk, const en_sealer_t *sealer,
                           const pr_referral_t *r);

/* Decodes a stored referral value into *out with its notes opened; the
 * value is copied and out's strings live in zone. -EIO when it does not
 * decode, -ENOKEY and -EBADMSG for a note as for personal fields. */
int en_store_decode_referral(const en_sealer_t *sealer, const void *value,
                             size_t len, msgpack_zone *zone, pr_referral_t *out);

/* Binds the store to the configured key (sealer may be NULL): the store
 * keeps a value sealed under the key it was first given (meta "seal"), and
 * refuses a start with no key or another key once it has one, so personal
 * data is never sealed under two lineages nor left unreadable by surprise.
 * A key found among the older ones of the file is re-bound to the first.
 * A store too full to record the binding starts unbound (logged). Returns
 * 0, or -1 with the reason in why. */
int en_store_bind_key(ix_env_t *ix, const en_sealer_t *sealer, char *why,
                      size_t why_len);

#endif
