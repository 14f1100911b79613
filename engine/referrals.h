/* referrals.h - referrals made by operations other than referral.create
 * (a job fair's allocation), under the same rules and with the same
 * history (ops_referrals.c).
 */
#ifndef JM_ENGINE_REFERRALS_H
#define JM_ENGINE_REFERRALS_H

#include <stdint.h>

#include <msgpack.h>

#include "error.h"
#include "index.h"
#include "message.h"
#include "writer.h"

/* Refers worker to vacancy in txn, on the writer thread, as job's key
 * at job's time, with note (len 0 = none). Returns 0 with *refno set, 1
 * when the pair may not be referred (the worker is not available, the
 * vacancy is closed or full, an open referral of the pair exists, a
 * record is gone: *err says which, and nothing was written), or a
 * negative errno from the index. sbuf is scratch. */
int en_referral_create(ix_txn_t *txn, const en_write_t *job, pr_str_t worker,
                       pr_str_t vacancy, pr_str_t note, msgpack_sbuffer *sbuf,
                       uint64_t *refno, pr_error_t *err);

#endif
