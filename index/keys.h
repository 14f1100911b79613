/* keys.h - private to index/: the one place that knows how keys are laid
 * out. Every builder writes into a caller buffer of IXK_MAX bytes and
 * returns the key length; nothing here allocates.
 *
 * Key layout (all integers big-endian so that LMDB's bytewise order is
 * numeric order; K = kind byte 'V' or 'W'; docno = u64, per kind, never
 * reused). docs/storage.md has the same table with byte diagrams.
 *
 *   dbi     key                                   value
 *   ids     K | id bytes                          docno (be64)
 *   docs    K | docno                             doc header + terms + id +
 *                                                 record value (see doc.c)
 *   post    'R' K | region[6] | docno             empty
 *           'O' K | code, NUL-padded to 10 | docno empty
 *           'S' K | status u8 | docno             empty
 *           'C' K | category u8 | docno           empty (a worker's category,
 *                                                 a vacancy's priority ones)
 *   match   'K' K | skill id | NUL | region[6]    one duplicate per posting:
 *   (DUPSORT|DUPFIXED)                            rank u8 | docno (be64) |
 *                                                 level u8 | brief
 *           'M' K | minor[7] | region[6]          one duplicate per posting:
 *                                                 rank u8 | docno (be64) |
 *                                                 tail[3] | brief
 *   counts  'T' K                                 records of kind K (be64)
 *           'N' K                                 matchable records (be64)
 *           'D' K | skill id | NUL                df among matchable (be64)
 *           'o' 'V' | len u8 | origin             matchable vacancies of
 *                                                 that origin (be64)
 *           'f' 'V' | len u8 | origin | skill id  df among them (be64)
 *   log     seq (be64)                            time be64 | op | K | id
 *   audit   'T' | time | aseq                      K | role | op | actor |
 *                                                 subject (each u8 length
 *                                                 + bytes)
 *           'S' K | block | subject | NUL |       empty (block = aseq >>
 *               time | aseq                       IXK_AUDIT_BLOCK_SHIFT, be32)
 *   fairs   'F' | fair id                         the fair (opaque value)
 *           'P' | fair id | NUL | K | id          empty: K id takes part
 *   stats   'O' | month | region[6] | code[10]    vacancies, headcount (be64 x2)
 *           'A' | month | level | region[6] |     workers, 0 (be64 x2)
 *               group[10]
 *           'C' | month | region[6] | category    workers, 0 (be64 x2)
 *           'H' | month | region[6] | category    hires, 0 (be64 x2)
 *           'W' | region[6] | code[10] | wage2    vacancies, 0 (be64 x2)
 *           'v' | region[6] | code[10] | wage2 |  empty (open offers)
 *               docno
 *           'w' | region[6] | code[10] | wage2 |  empty (available wishes)
 *               docno
 *   referrals 'r' | refno                         referral header + value
 *           'w' | worker id | NUL | refno         empty
 *           'v' | vacancy id | NUL | refno        empty
 *           's' | status u8 | refno               empty
 *   alerts  'S' | sub (be64)                      the subscription (opaque)
 *           'A' | sub (be64) | seq (be64)         the alert (opaque)
 *           'N'                                   last subscription id (be64)
 *           'Q'                                   last alert seq (be64)
 *   meta    "version"                             format version (u8)
 *           "docno" K                             next docno for K (be64)
 *           "seq"                                 last log seq (be64)
 *           "aseq"                                last audit seq (be64)
 *           "refno"                               next referral number (be64)
 *
 * In stats, month is the month number (year * 12 + month - 1, UTC) as a
 * be64 with the sign bit flipped, codes are NUL-padded to 10 bytes (all
 * NULs: none), wage2 is twice a monthly wage in yuan (be32), level is an
 * occupation level's code length (1, 4, 7 or 10). See labour.c.
 *
 * Counters are deleted when they reach zero, so a stored counter is never
 * zero. A skill id never contains NUL, so the NUL after it makes skill
 * keys prefix-free ("ab" sorts before "abc" and never inside its range).
 *
 * The matching postings (skills and minor groups) live in their own dbi,
 * opened MDB_DUPSORT | MDB_DUPFIXED: one key per (term, county), and each
 * posting is one fixed-size duplicate value under it. Matching walks
 * these by the hundred thousand per query; as duplicates of one key they
 * are packed back to back in LEAF2 pages (no per-posting node header or
 * repeated key: 31 bytes per vacancy skill posting instead of ~60) and
 * MDB_GET_MULTIPLE / MDB_NEXT_MULTIPLE hand the scan a whole page of them
 * per call instead of one per MDB_NEXT. The region sits in the key after
 * the term, so the postings of one term in one province (2 digits), city
 * (4) or county (6) are one contiguous run of keys. Each value starts
 * with the record's match rank (ix_match_rank: a vacancy's education_min,
 * 255 minus a worker's education), then the docno, big-endian, so
 * duplicates sort by rank, then docno: the records rule 4 admits for a
 * probe are the first of each group, and a walk stops at the first rank
 * above the probe's. A point look-up is MDB_GET_BOTH_RANGE on rank and
 * docno. The value's size is fixed per tag and kind, as DUPFIXED
 * requires:
 *
 *   skill:       rank | docno | level | brief   1 + 8 + 1 + 21 (V) or 9 (W)
 *   minor group: rank | docno | tail  | brief   1 + 8 + 3 + 21 (V) or 9 (W)
 *
 * A minor-group posting exists for every occupation code of 7 or 10
 * bytes; its tail is the code's last 3 bytes ("-03") for a 10-byte code
 * and three NULs for a 7-byte one, so minor + tail gives the code back.
 * The "slot" of a posting is the part of its value that identifies it
 * within its key (rank and docno, plus the tail for minor groups); the rest
 * (level, brief) is what a replace may change.
 *
 * A brief is the part of a record matching decides on (ix_brief_t), in a
 * fixed width per kind, integers in native byte order (an LMDB file is
 * native-endian anyway) so decoding is a few unaligned loads:
 *
 *   vacancy (21): open u8 | expires i64 | wage u32 | occupation u32 |
 *                 education u8 | age_min u8 | age_max u8 | priority u8
 *   worker (9):   open u8 | wage u32 | birth_year u16 | education u8 |
 *                 category u8
 */
#ifndef JM_INDEX_KEYS_H
#define JM_INDEX_KEYS_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "index.h"

/* Upper bound on any key built here: 'K' kind skill(64) NUL region is 73
 * bytes, 'D' and ids keys fewer; rounded up. */
#define IXK_MAX 88
/* Width of an occupation code inside 'O' keys. */
#define IXK_OCC_WIDTH 10

enum ixk_tag {
    IXK_REGION = 'R',
    IXK_OCCUPATION = 'O',
    IXK_STATUS = 'S',
    IXK_CATEGORY = 'C',
    IXK_SKILL = 'K',
    IXK_MINOR = 'M',
    IXK_TOTAL = 'T',
    IXK_MATCHABLE = 'N',
    IXK_DF = 'D',
    IXK_ORIGIN_OPEN = 'o',
    IXK_ORIGIN_DF = 'f',
};

/* Tags and key lengths of the stats dbi (labour.c). */
enum ixa_tag {
    IXA_OPENINGS = IX_AGG_OPENINGS,
    IXA_APPLICANTS = IX_AGG_APPLICANTS,
    IXA_REGISTERED = IX_AGG_REGISTERED,
    IXA_HIRED = IX_AGG_HIRED,
    IXA_WAGES = IX_AGG_WAGES,
    IXA_COPY_OPENINGS = IX_AGG_COPY_OPENINGS,
    IXA_OFFER = 'v',
    IXA_WISH = 'w',
};
#define IXA_KEY_MAX 32
#define IXA_OPENINGS_LEN 25
#define IXA_APPLICANTS_LEN 26
#define IXA_CATEGORY_LEN 16
#define IXA_WAGES_LEN 21
#define IXA_POSTING_LEN 29

/* Fixed lengths of the fixed-width keys. */
#define IXK_DOC_LEN 9
#define IXK_REGION_LEN 16
#define IXK_OCC_LEN 20
#define IXK_STATUS_LEN 11
#define IXK_CATEGORY_LEN 11
/* Minor-group keys: 'M' K minor[7] region[6]. */
#define IXK_MINOR_WIDTH 7
#define IXK_MINOR_TAIL 3
#define IXK_MINOR_REGION 9
#define IXK_MINOR_LEN 15
/* Bytes a skill key adds after 'K' K skill NUL: the region. */
#define IXK_SKILL_TAIL 6
/* Brief widths per kind. */
#define IXK_BRIEF_VACANCY 21
#define IXK_BRIEF_WORKER 9
/* Where a brief holds the education, which a matching posting's rank
 * derives from (ixk_brief_education). */
#define IXK_BRIEF_V_EDUCATION 17
#define IXK_BRIEF_W_EDUCATION 7
/* Matching posting values: the rank, the docno, then (skill) the level
 * or (minor group) the tail, then the brief. The slot is the part that
 * identifies a posting within its key. */
#define IXK_MATCH_DOCNO 1
#define IXK_SKILL_SLOT (IXK_MATCH_DOCNO + 8)
#define IXK_SKILL_LEVEL IXK_SKILL_SLOT
#define IXK_SKILL_BRIEF (IXK_SKILL_LEVEL + 1)
#define IXK_MINOR_SLOT (IXK_MATCH_DOCNO + 8 + IXK_MINOR_TAIL)
#define IXK_MINOR_BRIEF IXK_MINOR_SLOT
/* The longest value of any queued posting (a vacancy's minor-group
 * posting: rank, docno, tail, brief). */
#define IXK_VAL_MAX (IXK_MINOR_BRIEF + IXK_BRIEF_VACANCY)

static inline void
ixk_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* One unaligned load and a byte swap: this decodes the docno of every
 * posting a matching scan walks. */
static inline uint64_t
ixk_get_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return be64toh(v);
}

static inline void
ixk_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t
ixk_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

/* The docno every key of the post dbi ends with. len must be >= 8. */
static inline uint64_t
ixk_docno_of(const uint8_t *key, size_t len)
{
    return ixk_get_be64(key + len - 8);
}

/* The docno of a matching posting's value. */
static inline uint64_t
ixk_match_docno(const uint8_t *val)
{
    return ixk_get_be64(val + IXK_MATCH_DOCNO);
}

/* True when key starts with the len bytes of prefix. */
static inline int
ixk_has_prefix(const uint8_t *key, size_t klen, const uint8_t *prefix,
               size_t plen)
{
    return klen >= plen && memcmp(key, prefix, plen) == 0;
}

/* Bytes of a brief of kind (IX_VACANCY or IX_WORKER). */
static inline size_t
ixk_brief_len(uint8_t kind)
{
    return kind == IX_VACANCY ? IXK_BRIEF_VACANCY : IXK_BRIEF_WORKER;
}

/* Writes b's fields of kind into out (ixk_brief_len(kind) bytes); returns
 * that length. */
static inline size_t
ixk_brief_put(uint8_t *out, uint8_t kind, const ix_brief_t *b)
{
    out[0] = b->open;
    if (kind == IX_VACANCY) {
        memcpy(out + 1, &b->expires, 8);
        memcpy(out + 9, &b->wage, 4);
        memcpy(out + 13, &b->occupation, 4);
        out[IXK_BRIEF_V_EDUCATION] = b->education;
        out[18] = b->age_min;
        out[19] = b->age_max;
        out[20] = b->priority_mask;
        return IXK_BRIEF_VACANCY;
    }
    memcpy(out + 1, &b->wage, 4);
    memcpy(out + 5, &b->birth_year, 2);
    out[IXK_BRIEF_W_EDUCATION] = b->education;
    out[8] = b->category;
    return IXK_BRIEF_WORKER;
}

/* Reads a brief of kind from p (ixk_brief_len(kind) bytes, any alignment)
 * into b; the other kind's fields are 0. */
static inline void
ixk_brief_get(const uint8_t *p, uint8_t kind, ix_brief_t *b)
{
    b->open = p[0];
    if (kind == IX_VACANCY) {
        memcpy(&b->expires, p + 1, 8);
        memcpy(&b->wage, p + 9, 4);
        memcpy(&b->occupation, p + 13, 4);
        b->birth_year = 0;
        b->education = p[IXK_BRIEF_V_EDUCATION];
        b->age_min = p[18];
        b->age_max = p[19];
        b->priority_mask = p[20];
        b->category = 0;
    } else {
        b->expires = 0;
        memcpy(&b->wage, p + 1, 4);
        b->occupation = 0;
        memcpy(&b->birth_year, p + 5, 2);
        b->education = p[IXK_BRIEF_W_EDUCATION];
        b->age_min = b->age_max = b->priority_mask = 0;
        b->category = p[8];
    }
}

/* The education byte of a brief of kind (as ixk_brief_put wrote it):
 * what the rank of the record's matching postings derives from. */
static inline uint8_t
ixk_brief_education(const uint8_t *p, uint8_t kind)
{
    return p[kind == IX_VACANCY ? IXK_BRIEF_V_EDUCATION : IXK_BRIEF_W_EDUCATION];
}

/* ids: K | id. */
size_t ixk_id(uint8_t *buf, uint8_t kind, const char *id, uint32_t id_len);
/* docs: K | docno. */
size_t ixk_doc(uint8_t *buf, uint8_t kind, uint64_t docno);
/* Postings. region is 1..6 bytes for a prefix, 6 for a full key. */
size_t ixk_region(uint8_t *buf, uint8_t kind, const char *region,
                  uint64_t docno);
size_t ixk_region_prefix(uint8_t *buf, uint8_t kind, const char *region,
                         uint32_t len);
/* code is 1..IXK_OCC_WIDTH bytes; the full key pads it with NUL. */
size_t ixk_occupation(uint8_t *buf, uint8_t kind, const char *code,
                      uint32_t len, uint64_t docno);
size_t ixk_occupation_prefix(uint8_t *buf, uint8_t kind, const char *code,
                             uint32_t len);
size_t ixk_status(uint8_t *buf, uint8_t kind, uint8_t status, uint64_t docno);
size_t ixk_category(uint8_t *buf, uint8_t kind, uint8_t category,
                    uint64_t docno);
/* A prefix of every posting of one tag and kind with a one-byte value:
 * 'S' K status or 'C' K category. */
size_t ixk_byte_prefix(uint8_t *buf, uint8_t tag, uint8_t kind, uint8_t v);
/* alerts dbi: tag 'S' with the subscription, or 'A' with the subscription
 * and the alert's seq (seq 0 = the first key of the subscription's alerts). */
#define IXK_SUB_LEN 9
#define IXK_ALERT_LEN 17
size_t ixk_sub(uint8_t *buf, uint64_t sub);
size_t ixk_alert(uint8_t *buf, uint64_t sub, uint64_t seq);

/* fairs dbi (keys up to IXK_FAIR_MAX bytes; ids hold no NUL, so the NUL
 * after the fair id keeps one fair's members apart from another's). */
#define IXK_FAIR_MAX (2 + IX_ID_MAX + 2 + IX_ID_MAX)
size_t ixk_fair(uint8_t *buf, const char *fair, uint32_t fair_len);
/* A member; with id_len 0 and kind 0, the prefix of every member. */
size_t ixk_fair_member(uint8_t *buf, const char *fair, uint32_t fair_len,
                       uint8_t kind, const char *id, uint32_t id_len);
/* match dbi: the key of one skill in one county. skill is 1..64 bytes
 * without NUL; region is 6 digits. */
size_t ixk_skill(uint8_t *buf, uint8_t kind, const char *skill, uint32_t len,
                 const char *region);
/* The range of one skill's postings within a region prefix of rlen (0..6)
 * bytes. */
size_t ixk_skill_prefix(uint8_t *buf, uint8_t kind, const char *skill,
                        uint32_t len, const char *region, uint32_t rlen);
/* True when an occupation code of len bytes gets a minor-group posting. */
static inline int
ixk_has_minor(uint32_t len)
{
    return len == IXK_MINOR_WIDTH || len == IXK_MINOR_WIDTH + IXK_MINOR_TAIL;
}
/* match dbi: the key of one minor group in one county. code is 7 or 10
 * bytes (see ixk_has_minor), its first 7 name the group; region is 6
 * digits. */
size_t ixk_minor(uint8_t *buf, uint8_t kind, const char *code,
                 const char *region);
/* The value of a skill posting: docno, level, then the brief bytes of
 * kind (ixk_brief_len(kind), as ixk_brief_put wrote them). Returns its
 * length; out holds IXK_VAL_MAX bytes. */
size_t ixk_skill_val(uint8_t *out, uint8_t kind, uint64_t docno,
                     uint8_t level, const uint8_t *brief);
/* The value of a minor-group posting of the code of len bytes (7 or 10):
 * docno, the tail NUL-padded to 3, then the brief bytes of kind. */
size_t ixk_minor_val(uint8_t *out, uint8_t kind, uint64_t docno,
                     const char *code, uint32_t len, const uint8_t *brief);
/* Value sizes of the two matching posting families of kind. */
static inline size_t
ixk_skill_val_len(uint8_t kind)
{
    return IXK_SKILL_BRIEF + ixk_brief_len(kind);
}
static inline size_t
ixk_minor_val_len(uint8_t kind)
{
    return IXK_MINOR_BRIEF + ixk_brief_len(kind);
}
/* The range of one minor group's postings within a region prefix of rlen
 * (0..6) bytes. */
size_t ixk_minor_prefix(uint8_t *buf, uint8_t kind, const char *minor,
                        const char *region, uint32_t rlen);
/* Counters. */
size_t ixk_df(uint8_t *buf, uint8_t kind, const char *skill, uint32_t len);
size_t ixk_counter(uint8_t *buf, uint8_t tag, uint8_t kind);
/* log: seq. */
size_t ixk_seq(uint8_t *buf, uint64_t seq);
/* meta: "docno" K. */
size_t ixk_meta_docno(uint8_t *buf, uint8_t kind);
/* audit: a time as 8 bytes that sort in time order (the sign bit
 * flipped), then the audit seq. */
#define IXK_AUDIT_AT 16
size_t ixk_audit_at(uint8_t *buf, int64_t time, uint64_t seq);
int64_t ixk_audit_time(const uint8_t *at);
/* 'T' | at: an entry, in time order. */
size_t ixk_audit_entry(uint8_t *buf, int64_t time, uint64_t seq);
/* 'S' K | block | subject | NUL: the prefix of one record's entries in
 * one block of seqs; with `at` (IXK_AUDIT_AT bytes, may be NULL)
 * appended, one of them. A block holds the seqs that share seq >>
 * IXK_AUDIT_BLOCK_SHIFT, so the subject keys written together are
 * neighbours (a few hundred pages per block) instead of one page per
 * subject anywhere in the trail. */
#define IXK_AUDIT_BLOCK_SHIFT 14
#define IXK_AUDIT_SUBJECT_FIXED 7
size_t ixk_audit_subject(uint8_t *buf, uint8_t kind, uint32_t block, const char *subject,
                         uint32_t len, const uint8_t *at);

#endif
