/* record.h - vacancy and worker records: validation against every field
 * rule of the wire contract, and their canonical msgpack encoding.
 *
 * The canonical encoding is what the daemon stores and returns: a map with
 * every field present (defaults filled in) in a fixed order. Optional
 * personal strings (name, national_id, phone) and center are written only
 * when set.
 *
 * Decoded records point into the msgpack zone they were decoded from.
 */
#ifndef JM_PROTOCOL_RECORD_H
#define JM_PROTOCOL_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "error.h"
#include "message.h"

#define PR_ID_MAX 64
#define PR_SKILLS_MAX 64
#define PR_SKILL_ID_MAX 64
/* The rule parts of the messages for an id that breaks them. */
#define PR_ID_RULE "must be 1..64 bytes of [A-Za-z0-9._:-]"
#define PR_SKILL_ID_RULE "must be 1..64 bytes of [A-Za-z0-9._:/-]"
#define PR_DESIRED_MAX 16
#define PR_EMPLOYER_MAX 128
#define PR_TITLE_MAX 256
#define PR_PERSONAL_MAX 256   /* name, national_id, phone: our own limit */
#define PR_CENTER_MAX 64
#define PR_EDUCATION_MAX 7
#define PR_REGION_LEN 6
#define PR_OCCUPATION_LEN 10  /* "D-DD-DD-DD" */

typedef enum pr_vacancy_status {
    PR_VACANCY_OPEN = 0,
    PR_VACANCY_CLOSED = 1,
} pr_vacancy_status_t;

typedef enum pr_worker_status {
    PR_WORKER_AVAILABLE = 0,
    PR_WORKER_EMPLOYED = 1,
    PR_WORKER_INACTIVE = 2,
} pr_worker_status_t;

typedef enum pr_category {
    PR_CAT_LAID_OFF = 0,
    PR_CAT_UNEMPLOYED = 1,
    PR_CAT_GRADUATE = 2,
    PR_CAT_MIGRANT = 3,
    PR_CAT_OTHER = 4,
    PR_CAT_COUNT = 5
} pr_category_t;

/* Name <-> enum. The parse functions return -1 for an unknown name; the
 * name functions return NULL for a value outside the enum. */
const char *pr_vacancy_status_name(int status);
int pr_vacancy_status_parse(pr_str_t s);
const char *pr_worker_status_name(int status);
int pr_worker_status_parse(pr_str_t s);
const char *pr_category_name(int category);
int pr_category_parse(pr_str_t s);

/* Syntax checks of the contract's codes and identifiers. */
bool pr_id_valid(const char *s, size_t len);          /* [A-Za-z0-9._:-]{1,64} */
bool pr_skill_id_valid(const char *s, size_t len);    /* [A-Za-z0-9._:/-]{1,64} */
bool pr_region_valid(const char *s, size_t len);      /* exactly 6 digits */
bool pr_occupation_valid(const char *s, size_t len);  /* D-DD-DD-DD */
/* A full occupation code or a prefix of one at a level boundary:
 * "6", "6-05", "6-05-02" or "6-05-02-03". */
bool pr_occupation_prefix_valid(const char *s, size_t len);

/* A request argument naming a record: map[key], a string that passes
 * pr_id_valid. Returns 0, 1 when absent and not PR_REQUIRED, or -1 with
 * err naming key. */
int pr_get_id(const msgpack_object *map, const char *key, unsigned flags, pr_str_t *out,
              pr_error_t *err);

typedef struct pr_skill {
    pr_str_t id;
    uint8_t level;  /* 1..5 */
} pr_skill_t;

typedef struct pr_vacancy {
    pr_str_t id, employer, title, occupation, region;
    pr_skill_t skills[PR_SKILLS_MAX];
    uint32_t n_skills;
    int64_t education_min;
    int64_t age_min, age_max;
    int64_t wage_min, wage_max;
    int64_t headcount, filled;
    uint8_t priority_mask;  /* bit (1 << pr_category_t) per category */
    int64_t posted, expires;
    int status;             /* pr_vacancy_status_t */
    pr_str_t origin;        /* the node that owns it; server-filled, ptr
                               NULL when unknown (stored before origins) */
} pr_vacancy_t;

typedef struct pr_worker {
    pr_str_t id, name, national_id, phone, region, center;
    int64_t birth_year;
    int64_t education;
    pr_skill_t skills[PR_SKILLS_MAX];
    uint32_t n_skills;
    pr_str_t desired[PR_DESIRED_MAX];
    uint32_t n_desired;
    int64_t wage_min;
    int category;           /* pr_category_t */
    int64_t registered;
    int status;             /* pr_worker_status_t */
} pr_worker_t;

/* Decoding flags. */
#define PR_REC_STORED 1u    /* a stored record: accept `filled` and `origin`
                               and require every server-filled field
                               (posted/registered) */
#define PR_REC_PROFILE 2u   /* a worker profile for ad-hoc matching: no id,
                               name, national_id or phone allowed or needed */

/* Validates obj (must be a map) against every rule of the contract and
 * fills *out. Absent optional fields get the contract's defaults; `posted`
 * and `registered` default to `now`. A client-sent `filled` or `origin`
 * is ignored (both are server-maintained) unless PR_REC_STORED is given.
 * On failure returns -1 with err->code = PR_BAD_REQUEST and a message
 * that starts with `path` and names the field, e.g.
 * "vacancy.skills[2].level: must be an integer 1..5". */
int pr_vacancy_decode(const msgpack_object *obj, const char *path,
                      unsigned flags, int64_t now, pr_vacancy_t *out,
                      pr_error_t *err);
int pr_worker_decode(const msgpack_object *obj, const char *path,
                     unsigned flags, int64_t now, pr_worker_t *out,
                     pr_error_t *err);

/* Canonical encodings. pr_pack_vacancy writes `origin` last, when set;
 * pr_pack_worker omits name, national_id and phone
 * when with_personal is false. */
void pr_pack_vacancy(msgpack_packer *pk, const pr_vacancy_t *v);
void pr_pack_worker(msgpack_packer *pk, const pr_worker_t *w,
                    bool with_personal);

#endif
