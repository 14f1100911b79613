/* ops_occupation.c - occupation.suggest: occupation codes for the words
 * people use for a job, from the classification loaded at start-up
 * (occupation.h). */
#include "command.h"
#include "occupation.h"

#define SUGGEST_TEXT_MAX 256
#define SUGGEST_LIMIT_DEFAULT 10
#define SUGGEST_LIMIT_MAX 50

int
en_op_occupation_suggest(en_req_t *req)
{
    const en_occupations_t *occ = req->srv->occupations;
    pr_str_t text;
    int64_t limit = SUGGEST_LIMIT_DEFAULT;
    if (pr_get_str(req->rq->args, "text", "text", PR_REQUIRED, 1, SUGGEST_TEXT_MAX, &text,
                   &req->err) != 0 ||
        pr_get_int(req->rq->args, "limit", "limit", 0, 1, SUGGEST_LIMIT_MAX, &limit,
                   &req->err) < 0)
        return -1;
    if (!occ)
        return pr_fail(&req->err, PR_NOT_FOUND,
                       "occupation.suggest: this daemon runs without an occupation "
                       "classification (occupations_file = none)");
    en_suggestion_t found[SUGGEST_LIMIT_MAX];
    size_t n = en_occupations_suggest(occ, text.ptr, text.len, found, (size_t)limit);
    en_reply_ok(req);
    msgpack_pack_map(req->pk, 1);
    pr_pack_cstr(req->pk, "suggestions");
    msgpack_pack_array(req->pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(req->pk, 3);
        pr_pack_cstr(req->pk, "code");
        pr_pack_cstr(req->pk, found[i].code);
        pr_pack_cstr(req->pk, "name");
        pr_pack_cstr(req->pk, found[i].name);
        pr_pack_cstr(req->pk, "score");
        msgpack_pack_double(req->pk, found[i].score);
    }
    return 0;
}
