/* keys.c - builders for every key the index stores; the layout itself is
 * documented once, in keys.h. Callers pass buffers of IXK_MAX bytes and have
 * already bounded the variable parts (ids and skills to 64 bytes, codes to
 * IXK_OCC_WIDTH), so no builder can overrun.
 */
#include "keys.h"

#include <assert.h>

size_t
ixk_id(uint8_t *buf, uint8_t kind, const char *id, uint32_t id_len)
{
    assert(id_len + 1 <= IXK_MAX);
    buf[0] = kind;
    memcpy(buf + 1, id, id_len);
    return 1 + (size_t)id_len;
}

size_t
ixk_doc(uint8_t *buf, uint8_t kind, uint64_t docno)
{
    buf[0] = kind;
    ixk_put_be64(buf + 1, docno);
    return IXK_DOC_LEN;
}

size_t
ixk_region_prefix(uint8_t *buf, uint8_t kind, const char *region,
                  uint32_t len)
{
    assert(len <= 6);
    buf[0] = IXK_REGION;
    buf[1] = kind;
    memcpy(buf + 2, region, len);
    return 2 + (size_t)len;
}

size_t
ixk_region(uint8_t *buf, uint8_t kind, const char *region, uint64_t docno)
{
    ixk_region_prefix(buf, kind, region, 6);
    ixk_put_be64(buf + 8, docno);
    return IXK_REGION_LEN;
}

size_t
ixk_occupation_prefix(uint8_t *buf, uint8_t kind, const char *code,
                      uint32_t len)
{
    assert(len <= IXK_OCC_WIDTH);
    buf[0] = IXK_OCCUPATION;
    buf[1] = kind;
    memcpy(buf + 2, code, len);
    return 2 + (size_t)len;
}

size_t
ixk_occupation(uint8_t *buf, uint8_t kind, const char *code, uint32_t len,
               uint64_t docno)
{
    /* Padding with NUL sorts a shorter code ("6-05") before the longer
     * codes it is a prefix of ("6-05-02"), keeping a prefix's range whole. */
    size_t n = ixk_occupation_prefix(buf, kind, code, len);
    memset(buf + n, 0, IXK_OCC_WIDTH - len);
    ixk_put_be64(buf + 2 + IXK_OCC_WIDTH, docno);
    return IXK_OCC_LEN;
}

size_t
ixk_byte_prefix(uint8_t *buf, uint8_t tag, uint8_t kind, uint8_t v)
{
    buf[0] = tag;
    buf[1] = kind;
    buf[2] = v;
    return 3;
}

size_t
ixk_status(uint8_t *buf, uint8_t kind, uint8_t status, uint64_t docno)
{
    ixk_byte_prefix(buf, IXK_STATUS, kind, status);
    ixk_put_be64(buf + 3, docno);
    return IXK_STATUS_LEN;
}

size_t
ixk_category(uint8_t *buf, uint8_t kind, uint8_t category, uint64_t docno)
{
    ixk_byte_prefix(buf, IXK_CATEGORY, kind, category);
    ixk_put_be64(buf + 3, docno);
    return IXK_CATEGORY_LEN;
}

size_t
ixk_df(uint8_t *buf, uint8_t kind, const char *skill, uint32_t len)
{
    assert(len + 11 <= IXK_MAX);
    buf[0] = IXK_DF;
    buf[1] = kind;
    memcpy(buf + 2, skill, len);
    buf[2 + len] = 0;
    return 3 + (size_t)len;
}

size_t
ixk_skill_prefix(uint8_t *buf, uint8_t kind, const char *skill, uint32_t len,
                 const char *region, uint32_t rlen)
{
    assert(rlen <= 6 && len + 3 + IXK_SKILL_TAIL <= IXK_MAX);
    size_t n = ixk_df(buf, kind, skill, len);
    buf[0] = IXK_SKILL;
    if (rlen > 0)   /* region may be NULL for the whole country */
        memcpy(buf + n, region, rlen);
    return n + rlen;
}

size_t
ixk_skill(uint8_t *buf, uint8_t kind, const char *skill, uint32_t len,
          const char *region)
{
    return ixk_skill_prefix(buf, kind, skill, len, region, 6);
}

size_t
ixk_minor_prefix(uint8_t *buf, uint8_t kind, const char *minor,
                 const char *region, uint32_t rlen)
{
    assert(rlen <= 6);
    buf[0] = IXK_MINOR;
    buf[1] = kind;
    memcpy(buf + 2, minor, IXK_MINOR_WIDTH);
    if (rlen > 0)   /* region may be NULL for the whole country */
        memcpy(buf + IXK_MINOR_REGION, region, rlen);
    return IXK_MINOR_REGION + (size_t)rlen;
}

size_t
ixk_minor(uint8_t *buf, uint8_t kind, const char *code, const char *region)
{
    return ixk_minor_prefix(buf, kind, code, region, 6);
}

/* The byte every matching posting's value starts with: the record's
 * match rank (ix_match_rank) of the education its brief holds. */
static uint8_t
val_rank(uint8_t kind, const uint8_t *brief)
{
    return ix_match_rank(kind, ixk_brief_education(brief, kind));
}

size_t
ixk_skill_val(uint8_t *out, uint8_t kind, uint64_t docno, uint8_t level,
              const uint8_t *brief)
{
    out[0] = val_rank(kind, brief);
    ixk_put_be64(out + IXK_MATCH_DOCNO, docno);
    out[IXK_SKILL_LEVEL] = level;
    size_t bl = ixk_brief_len(kind);
    memcpy(out + IXK_SKILL_BRIEF, brief, bl);
    return IXK_SKILL_BRIEF + bl;
}

size_t
ixk_minor_val(uint8_t *out, uint8_t kind, uint64_t docno, const char *code,
              uint32_t len, const uint8_t *brief)
{
    assert(ixk_has_minor(len));
    out[0] = val_rank(kind, brief);
    ixk_put_be64(out + IXK_MATCH_DOCNO, docno);
    /* A 7-byte code's tail is three NULs, which sort before any real
     * tail, as the shorter code sorted first when the tail ended the key. */
    uint8_t *tail = out + IXK_MATCH_DOCNO + 8;
    memset(tail, 0, IXK_MINOR_TAIL);
    memcpy(tail, code + IXK_MINOR_WIDTH, len - IXK_MINOR_WIDTH);
    size_t bl = ixk_brief_len(kind);
    memcpy(out + IXK_MINOR_BRIEF, brief, bl);
    return IXK_MINOR_BRIEF + bl;
}

size_t
ixk_counter(uint8_t *buf, uint8_t tag, uint8_t kind)
{
    buf[0] = tag;
    buf[1] = kind;
    return 2;
}

size_t
ixk_seq(uint8_t *buf, uint64_t seq)
{
    ixk_put_be64(buf, seq);
    return 8;
}

size_t
ixk_meta_docno(uint8_t *buf, uint8_t kind)
{
    memcpy(buf, "docno", 5);
    buf[5] = kind;
    return 6;
}

size_t
ixk_audit_at(uint8_t *buf, int64_t time, uint64_t seq)
{
    ixk_put_be64(buf, (uint64_t)time ^ (1ULL << 63));
    ixk_put_be64(buf + 8, seq);
    return IXK_AUDIT_AT;
}

int64_t
ixk_audit_time(const uint8_t *at)
{
    return (int64_t)(ixk_get_be64(at) ^ (1ULL << 63));
}

size_t
ixk_audit_entry(uint8_t *buf, int64_t time, uint64_t seq)
{
    buf[0] = 'T';
    return 1 + ixk_audit_at(buf + 1, time, seq);
}

size_t
ixk_audit_subject(uint8_t *buf, uint8_t kind, uint32_t block, const char *subject,
                  uint32_t len, const uint8_t *at)
{
    buf[0] = 'S';
    buf[1] = kind;
    ixk_put_be32(buf + 2, block);
    memcpy(buf + 6, subject, len);
    buf[6 + len] = '\0';
    if (!at)
        return 7 + len;
    memcpy(buf + 7 + len, at, IXK_AUDIT_AT);
    return 7 + len + IXK_AUDIT_AT;
}

size_t
ixk_fair(uint8_t *buf, const char *fair, uint32_t fair_len)
{
    assert(fair_len <= IX_ID_MAX);
    buf[0] = 'F';
    memcpy(buf + 1, fair, fair_len);
    return 1 + (size_t)fair_len;
}

size_t
ixk_fair_member(uint8_t *buf, const char *fair, uint32_t fair_len,
                uint8_t kind, const char *id, uint32_t id_len)
{
    assert(fair_len <= IX_ID_MAX && id_len <= IX_ID_MAX);
    size_t n = 0;
    buf[n++] = 'P';
    memcpy(buf + n, fair, fair_len);
    n += fair_len;
    buf[n++] = 0;
    if (kind == 0)
        return n;
    buf[n++] = kind;
    memcpy(buf + n, id, id_len);
    return n + id_len;
}

size_t
ixk_sub(uint8_t *buf, uint64_t sub)
{
    buf[0] = 'S';
    ixk_put_be64(buf + 1, sub);
    return IXK_SUB_LEN;
}

size_t
ixk_alert(uint8_t *buf, uint64_t sub, uint64_t seq)
{
    buf[0] = 'A';
    ixk_put_be64(buf + 1, sub);
    ixk_put_be64(buf + 9, seq);
    return IXK_ALERT_LEN;
}
