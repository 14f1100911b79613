/* referral.h - referrals: a worker put forward for a vacancy, followed to
 * a hire or an end. Their statuses and moves, their ids on the wire, and
 * the canonical msgpack encoding the daemon stores and returns.
 *
 * A decoded referral points into the msgpack zone it was decoded from.
 */
#ifndef JM_PROTOCOL_REFERRAL_H
#define JM_PROTOCOL_REFERRAL_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "message.h"

typedef enum pr_referral_status {
    PR_REF_REFERRED = 0,
    PR_REF_INTERVIEWED = 1,
    PR_REF_HIRED = 2,
    PR_REF_REJECTED = 3,
    PR_REF_WITHDRAWN = 4,
    PR_REF_STATUS_COUNT
} pr_referral_status_t;

#define PR_REF_NOTE_MAX 1024
#define PR_REF_BY_MAX 64
/* referred, at most one interviewed, one final status. */
#define PR_REF_HISTORY_MAX 3
/* "r-" and up to 20 digits. */
#define PR_REF_ID_MAX 22

const char *pr_referral_status_name(int status);
int pr_referral_status_parse(pr_str_t s);

/* Whether a referral may move from one status to another: referred ->
 * interviewed, hired, rejected or withdrawn; interviewed -> hired,
 * rejected or withdrawn; nothing else (hired, rejected and withdrawn are
 * final). */
bool pr_referral_move_allowed(int from, int to);

/* A referral's wire id is "r-" and its number in decimal (no leading
 * zero). Writes it into buf (PR_REF_ID_MAX + 1 bytes); returns the
 * length. */
uint32_t pr_referral_id_format(char *buf, uint64_t refno);
/* Parses a wire id; 0 when it is not one. */
uint64_t pr_referral_id_parse(pr_str_t s);

typedef struct pr_referral_event {
    int status;
    int64_t at;
    pr_str_t by;     /* the key name that made the change; len 0 = none */
    pr_str_t note;   /* len 0 = none */
    bool note_sealed;   /* note holds the note sealed (at rest), packed as a bin */
} pr_referral_event_t;

typedef struct pr_referral {
    uint64_t refno;
    pr_str_t worker, vacancy;
    int status;
    int64_t created, updated;
    int64_t hired_at;            /* 0 = not hired */
    pr_referral_event_t history[PR_REF_HISTORY_MAX];
    uint32_t n_history;
} pr_referral_t;

/* Packs the canonical map: id, worker, vacancy, status, created, updated,
 * hired_at (nil unless hired), history [{status, at, by, note}] (by and
 * note nil when absent; a sealed note is a bin). */
void pr_pack_referral(msgpack_packer *pk, const pr_referral_t *r);

/* Decodes what pr_pack_referral wrote (a bin note as sealed); -1 when
 * obj is not such a map. */
int pr_referral_decode(const msgpack_object *obj, pr_referral_t *out);

#endif
