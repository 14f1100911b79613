/* occupation.h - occupation codes from free text: the classification's
 * names and aliases, loaded once, searched by the words people use for a
 * job ("抖音客服专员", "java开发").
 *
 * Text is cut into units (a CJK character, an ASCII word lower-cased, any
 * other character), and each name or alias (a "form") is indexed by its
 * unit unigrams and bigrams weighted by IDF over all forms. A form scores
 * the share of weight it has in common with the query (Dice), plus a boost
 * when one contains the other; an occupation scores its best form, with a
 * small preference for detail-level (10-character) codes.
 *
 * The loaded table is read-only: any number of threads may search it.
 */
#ifndef JM_ENGINE_OCCUPATION_H
#define JM_ENGINE_OCCUPATION_H

#include <stddef.h>

typedef struct en_occupations en_occupations_t;

typedef struct en_suggestion {
    const char *code;     /* "6-05-02-03"; owned by the table */
    const char *name;     /* without the classification's S/L markers */
    double score;         /* > 0; higher is better (2.3 at most) */
} en_suggestion_t;

/* Reads a CSV with the header `level,code,name,alias` (alias: one field of
 * comma-separated aliases). Returns NULL with the reason (file, line) in
 * why when the file cannot be read or is not such a table. */
en_occupations_t *en_occupations_load(const char *path, char *why, size_t why_len);

/* Adds aliases from a second CSV `code,alias` (codes must be loaded).
 * Used to try aliases learned elsewhere before shipping them. 0, or -1
 * with why. Call before the first search. */
int en_occupations_add_aliases(en_occupations_t *occ, const char *path, char *why,
                               size_t why_len);

void en_occupations_free(en_occupations_t *occ);

/* Distinct occupation codes loaded. */
size_t en_occupations_count(const en_occupations_t *occ);

/* The name of a loaded code (NUL-terminated), or NULL. */
const char *en_occupations_name(const en_occupations_t *occ, const char *code);

/* The best matches for text (len bytes of UTF-8), best first, at most
 * limit of them in out. Returns how many (0 when nothing matches). */
size_t en_occupations_suggest(const en_occupations_t *occ, const char *text, size_t len,
                              en_suggestion_t *out, size_t limit);

#endif
