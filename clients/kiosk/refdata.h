/* refdata.h - the reference data a kiosk shows by name: regions, skills
 * and occupations, read once from the CSV files in the project's data/
 * folder (data/README.md describes them).
 *
 * Lookups return pointers into the tables, valid until refdata_free().
 */
#ifndef JM_KIOSK_REFDATA_H
#define JM_KIOSK_REFDATA_H

#include <stddef.h>

typedef struct kiosk_entry {
    char *code;  /* region code, skill id or occupation code */
    char *name;
    char *alias; /* occupations only; NULL otherwise */
    char *name_zh; /* skills only: the Chinese name, when data/skills_zh.csv has one */
} kiosk_entry_t;

typedef struct kiosk_table {
    kiosk_entry_t *rows; /* sorted by code (bytewise) */
    size_t n;
} kiosk_table_t;

typedef struct kiosk_refdata {
    kiosk_table_t regions;
    kiosk_table_t skills;
    kiosk_table_t occupations; /* leaf codes (level 4) and the groups above */
} kiosk_refdata_t;

/* Reads DIR/cn_admin_divisions_mca_2024.csv, DIR/skills.csv,
 * DIR/cn_occupation_classification_2022.csv and, when present,
 * DIR/skills_zh.csv (Chinese skill names). Returns 0, or -1 with the
 * reason in err. */
int refdata_load(kiosk_refdata_t *rd, const char *dir, char *err, size_t errlen);
void refdata_free(kiosk_refdata_t *rd);

/* The entry with exactly this code, or NULL. */
const kiosk_entry_t *refdata_find(const kiosk_table_t *t, const char *code);

/* The name of an occupation group or code: "6-05" and "6-05-02" are looked
 * up as "6-05-00-00" and "6-05-02-00". NULL when unknown. */
const char *refdata_occupation_name(const kiosk_refdata_t *rd, const char *code);

/* Entries whose name (or alias, Chinese name or code) contains text, case-insensitively
 * for ASCII: those equal to it first, then those starting with it, then
 * the rest, each in table order. At
 * most max results go to out; returns how many. only_leaves keeps codes of
 * the most detailed level (occupations: D-DD-DD-DD that are not groups). */
size_t refdata_search(const kiosk_table_t *t, const char *text, int only_leaves,
                      const kiosk_entry_t **out, size_t max);

/* The name without the classification's trailing markers of digital and
 * green occupations ("S", "L", "L/S"), into buf. */
const char *refdata_display_name(const char *name, char *buf, size_t len);

#endif
