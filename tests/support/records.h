/* records.h - test records in the oracle's structs (oracle.h): building
 * them, generating random ones from a seeded generator, and loading them
 * into a daemon through put_many.
 *
 * The random records use a small vocabulary (12 regions in 2 provinces x
 * 2 cities x 3 counties, 20 common skills plus rare ones, 8 occupation
 * codes sharing groups) so that they overlap often; fewer regions and
 * skills (jt_n_regions_used, jt_n_skills_used) make a dense store full of
 * exact ties.
 */
#ifndef JM_TESTS_RECORDS_H
#define JM_TESTS_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "jobmatch.h"
#include "oracle.h"

/* 2026-01-01T00:00:00Z: the tests' "now" (random expiries lie around it). */
#define JT_AS_OF INT64_C(1767225600)
#define JT_DAY INT64_C(86400)

void jt_set_str(char *dst, size_t size, const char *src);
#define JT_SET(field, src) jt_set_str((field), sizeof(field), (src))

void jt_add_skill(jo_skill_t *skills, unsigned *n, const char *id, int level);
/* A vacancy / worker with the contract's defaults and these core fields. */
jo_vacancy_t jt_vacancy(const char *id, const char *occupation, const char *region);
jo_worker_t jt_worker(const char *id, int birth_year, const char *region);

/* Records as the wire carries them; as_profile leaves out id and status
 * (the profile argument of match.vacancies). */
void jt_pack_jo_skills(msgpack_packer *pk, const jo_skill_t *skills, unsigned n);
void jt_pack_jo_vacancy(msgpack_packer *pk, const jo_vacancy_t *v);
void jt_pack_jo_worker(msgpack_packer *pk, const jo_worker_t *w, bool as_profile);
/* Loads records through put_many (batches well under 1 MiB), asserting
 * every batch is accepted. */
void jt_put_vacancies(jm_client_t *c, const jo_vacancy_t *const *v, size_t n);
/* The same, `batch` records per put_many. */
void jt_put_vacancies_by(jm_client_t *c, const jo_vacancy_t *const *v, size_t n,
                         size_t batch);
void jt_put_workers(jm_client_t *c, const jo_worker_t *const *w, size_t n);
void jt_put_store(jm_client_t *c, const jo_store_t *s);

/* splitmix64; set jt_rng_state to seed it. */
extern uint64_t jt_rng_state;
uint64_t jt_rnd(void);
unsigned jt_rn(unsigned n);           /* 0..n-1 */
#define JT_PICK(arr) ((arr)[jt_rn(sizeof(arr) / sizeof((arr)[0]))])

extern const char *const jt_regions[12];
extern const char *const jt_skill_ids[20];
extern const char *const jt_occupations[8];
extern const char *const jt_desired_codes[16];
extern const char *const jt_categories[5];
extern const char *const jt_employers[6];
/* How many of jt_regions and jt_skill_ids the generators use. */
extern unsigned jt_n_regions_used, jt_n_skills_used;
/* Numbers the ids jt_new_*_id make. */
extern unsigned jt_next_serial;

/* Up to max common skills (sometimes rare ones, now and then 40). */
void jt_random_skills(jo_skill_t *skills, unsigned *n, unsigned max);
void jt_random_vacancy(jo_vacancy_t *v, const char *id);
void jt_random_worker(jo_worker_t *w, const char *id);
void jt_new_vacancy_id(char *id, size_t size);
void jt_new_worker_id(char *id, size_t size);

#endif
