"""Ranking version 1, implemented from CONTRACT.md ("Matching, ranking version 1") alone.

Records are plain dicts in the shape the test stored them (defaults filled in with
`vacancy_defaults` / `worker_defaults`).  Everything is computed from the records the
test holds; nothing is read back from the daemon.
"""
import datetime
import functools
import math

SCOPE_DIGITS = {"county": 6, "city": 4, "province": 2, "all": 0}


def vacancy_defaults(v):
    d = {"skills": [], "education_min": 0, "age_min": 0, "age_max": 0, "wage_min": 0,
         "wage_max": 0, "headcount": 1, "filled": 0, "priority_categories": [],
         "expires": 0, "status": "open"}
    d.update({k: val for k, val in v.items() if val is not None})
    return d


def worker_defaults(w):
    d = {"education": 0, "skills": [], "desired_occupations": [], "wage_min": 0,
         "category": "other", "status": "available"}
    d.update({k: val for k, val in w.items() if val is not None})
    return d


def year_of(ts):
    return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).year


def occupation_bonus(desired, occ):
    best = 0.0
    for d in desired:
        if d == occ and len(d) == len(occ):
            b = 2.0
        elif len(d) >= 7 and d[:7] == occ[:7]:
            b = 1.2
        elif len(d) >= 4 and d[:4] == occ[:4]:
            b = 0.6
        elif len(d) >= 1 and d[:1] == occ[:1]:
            b = 0.2
        else:
            b = 0.0
        best = max(best, b)
    return best


def vacancy_available(v, as_of):
    """Rule 1 (vacancy side)."""
    if v["status"] != "open":
        return False
    if not (v["expires"] == 0 or v["expires"] > as_of):
        return False
    return v["headcount"] - v["filled"] > 0


def is_match(w, v, scope, as_of, need_worker_available):
    if not vacancy_available(v, as_of):
        return False
    if need_worker_available and w.get("status", "available") != "available":
        return False
    n = SCOPE_DIGITS[scope]
    if n and v["region"][:n] != w["region"][:n]:
        return False
    if not (v["wage_max"] == 0 or w["wage_min"] <= v["wage_max"]):
        return False
    if not (v["education_min"] <= w["education"]):
        return False
    age = year_of(as_of) - w["birth_year"]
    if v["age_min"] > 0 and age < v["age_min"]:
        return False
    if v["age_max"] > 0 and age > v["age_max"]:
        return False
    wskills = {s["id"] for s in w["skills"]}
    shared = any(s["id"] in wskills for s in v["skills"])
    if not shared and occupation_bonus(w["desired_occupations"], v["occupation"]) < 1.2:
        return False
    return True


def score_parts(w, v, idf):
    wl = {s["id"]: s["level"] for s in w["skills"]}
    skill = 0.0
    for s in v["skills"]:
        if s["id"] in wl:
            lv = s["level"]
            lw = wl[s["id"]]
            skill += idf(s["id"]) * min(lw, lv) / lv
    occ = occupation_bonus(w["desired_occupations"], v["occupation"])
    county = 0.5 if v["region"] == w["region"] else 0.0
    prio = 0.5 if w["category"] in v["priority_categories"] else 0.0
    return skill, occ, county, prio


def score(w, v, idf):
    skill, occ, county, prio = score_parts(w, v, idf)
    return skill + occ + county + prio


def _idf(records, status):
    """idf(s) = ln(1 + N / df(s)) over the records in `status`."""
    counted = [r for r in records if r["status"] == status]
    df = {}
    for r in counted:
        for s in r["skills"]:
            df[s["id"]] = df.get(s["id"], 0) + 1
    n = len(counted)
    return lambda s: math.log(1 + n / df[s])


def vacancy_idf(vacancies):
    """idf for match.vacancies: N = open vacancies, df = open vacancies requiring s."""
    return _idf(vacancies, "open")


def worker_idf(workers):
    """idf for match.workers: N = available workers, df = available workers holding s."""
    return _idf(workers, "available")


def _order(a, b):
    """Score descending, then id ascending bytewise. Scores equal as real
    numbers tie: sums of the same terms in another order differ in their last
    bits, so scores within a relative 1e-12 count as equal."""
    if abs(a[1] - b[1]) > 1e-12 * (abs(a[1]) + abs(b[1])):
        return -1 if a[1] > b[1] else 1
    ia, ib = a[0].encode("utf-8"), b[0].encode("utf-8")
    return (ia > ib) - (ia < ib)


def _rank(items, limit):
    items.sort(key=functools.cmp_to_key(_order))
    return items[:limit] if limit is not None else items


def match_vacancies(w, vacancies, scope="city", as_of=None, limit=20, idf=None):
    """[(vacancy id, score)] for worker/profile w over all stored vacancies."""
    idf = idf or vacancy_idf(vacancies)
    out = [(v["id"], score(w, v, idf)) for v in vacancies
           if is_match(w, v, scope, as_of, need_worker_available=False)]
    return _rank(out, limit)


def match_workers(v, workers, scope="city", as_of=None, limit=20, idf=None):
    """[(worker id, score)] for vacancy v over all stored workers."""
    idf = idf or worker_idf(workers)
    out = [(w["id"], score(w, v, idf)) for w in workers
           if is_match(w, v, scope, as_of, need_worker_available=True)]
    return _rank(out, limit)
