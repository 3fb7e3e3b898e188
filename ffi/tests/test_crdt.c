/* consensio_gcounter_*, _pncounter_*, _lww_*, _mvreg_*, _orset_*: replicas
 * update independently, ship their states as frames and converge by
 * merging; a state received twice counts once; add wins over a concurrent
 * remove; bad input is a status and changes nothing. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static const uint8_t X[] = "x";

int main(void) {
    uint8_t frame[512];
    size_t len = 0;

    /* Counters: two replicas, a frame shipped twice. */
    consensio_gcounter *a = NULL, *b = NULL, *shipped = NULL;
    CHECK_OK(consensio_gcounter_new(&a));
    CHECK_OK(consensio_gcounter_new(&b));
    CHECK_OK(consensio_gcounter_increment(a, 1, 3));
    CHECK_OK(consensio_gcounter_increment(b, 2, 4));
    CHECK_OK(consensio_gcounter_encode(b, frame, sizeof frame, &len));
    CHECK_OK(consensio_gcounter_decode(frame, len, &shipped));
    CHECK_OK(consensio_gcounter_merge(a, shipped));
    CHECK_OK(consensio_gcounter_merge(a, shipped));
    CHECK_OK(consensio_gcounter_merge(a, a));
    uint64_t total = 0;
    CHECK_OK(consensio_gcounter_value(a, &total));
    CHECK(total == 7);
    CHECK_FAILS(consensio_gcounter_encode(a, frame, 2, &len), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK(len > 2);
    CHECK_OK(consensio_gcounter_increment(a, 1, UINT64_MAX - 3));
    CHECK_FAILS(consensio_gcounter_increment(a, 1, 1), CONSENSIO_OUT_OF_RANGE);
    CHECK_OK(consensio_gcounter_increment(a, 9, 9));
    CHECK_FAILS(consensio_gcounter_value(a, &total), CONSENSIO_OUT_OF_RANGE); /* the sum is wider */
    consensio_gcounter_free(a);
    consensio_gcounter_free(b);
    consensio_gcounter_free(shipped);
    consensio_gcounter_free(NULL);

    consensio_pncounter *p = NULL, *q = NULL;
    CHECK_OK(consensio_pncounter_new(&p));
    CHECK_OK(consensio_pncounter_new(&q));
    CHECK_OK(consensio_pncounter_increment(p, 1, 10));
    CHECK_OK(consensio_pncounter_decrement(q, 2, 25));
    CHECK_OK(consensio_pncounter_merge(p, q));
    int64_t signed_total = 0;
    CHECK_OK(consensio_pncounter_value(p, &signed_total));
    CHECK(signed_total == -15);
    consensio_pncounter_free(p);
    consensio_pncounter_free(q);

    /* LWW: the later hybrid timestamp wins, whichever merges first. */
    consensio_lww *r = NULL, *s = NULL;
    CHECK_OK(consensio_lww_new(&r));
    CHECK_OK(consensio_lww_new(&s));
    uint8_t applied = 9, has = 9;
    char value[16] = {0};
    CHECK_OK(consensio_lww_get(r, (uint8_t *)value, sizeof value, &len, &has));
    CHECK(has == 0 && len == 0);
    CHECK_OK(consensio_lww_set(r, 100, 0, 1, (const uint8_t *)"red", 3, &applied));
    CHECK(applied == 1);
    CHECK_OK(consensio_lww_set(s, 100, 1, 2, (const uint8_t *)"blue", 4, &applied));
    CHECK_OK(consensio_lww_merge(r, s));
    CHECK_OK(consensio_lww_get(r, (uint8_t *)value, sizeof value, &len, &has));
    CHECK(has == 1 && len == 4 && memcmp(value, "blue", 4) == 0);
    CHECK_OK(consensio_lww_set(r, 99, 9, 3, (const uint8_t *)"late", 4, &applied));
    CHECK(applied == 0);
    consensio_lww_free(r);
    consensio_lww_free(s);

    /* MV register: concurrent writes are siblings. */
    consensio_mvreg *m = NULL, *n = NULL;
    CHECK_OK(consensio_mvreg_new(&m));
    CHECK_OK(consensio_mvreg_new(&n));
    CHECK_OK(consensio_mvreg_write(m, 1, (const uint8_t *)"milk", 4));
    CHECK_OK(consensio_mvreg_write(n, 2, (const uint8_t *)"eggs", 4));
    CHECK_OK(consensio_mvreg_merge(m, n));
    size_t siblings = 0;
    CHECK_OK(consensio_mvreg_count(m, &siblings));
    CHECK(siblings == 2);
    CHECK_OK(consensio_mvreg_value(m, 1, (uint8_t *)value, sizeof value, &len));
    CHECK(len == 4);
    CHECK_FAILS(consensio_mvreg_value(m, 2, (uint8_t *)value, sizeof value, &len), CONSENSIO_OUT_OF_RANGE);
    consensio_mvreg_free(m);
    consensio_mvreg_free(n);

    /* OR-set: add wins over a concurrent remove; a remove that saw the add is final. */
    consensio_orset *x = NULL, *y = NULL, *z = NULL;
    CHECK_OK(consensio_orset_new(&x));
    CHECK_OK(consensio_orset_add(x, 1, X, 1));
    CHECK_OK(consensio_orset_encode(x, frame, sizeof frame, &len));
    CHECK_OK(consensio_orset_decode(frame, len, &y));
    uint8_t removed = 9, in = 9;
    CHECK_OK(consensio_orset_remove(y, X, 1, &removed));
    CHECK(removed == 1);
    CHECK_OK(consensio_orset_remove(y, X, 1, &removed));
    CHECK(removed == 0);
    CHECK_OK(consensio_orset_add(x, 1, X, 1)); /* concurrent with y's remove */
    CHECK_OK(consensio_orset_merge(y, x));
    CHECK_OK(consensio_orset_contains(y, X, 1, &in));
    CHECK(in == 1);
    CHECK_OK(consensio_orset_remove(y, X, 1, &removed));
    CHECK_OK(consensio_orset_merge(x, y));
    CHECK_OK(consensio_orset_contains(x, X, 1, &in));
    CHECK(in == 0);
    CHECK_OK(consensio_orset_add(x, 1, (const uint8_t *)"b", 1));
    CHECK_OK(consensio_orset_add(x, 1, (const uint8_t *)"a", 1));
    size_t count = 0;
    CHECK_OK(consensio_orset_count(x, &count));
    CHECK(count == 2);
    CHECK_OK(consensio_orset_element(x, 0, (uint8_t *)value, sizeof value, &len));
    CHECK(len == 1 && value[0] == 'a');
    CHECK_FAILS(consensio_orset_element(x, 0, NULL, 0, &len), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK(len == 1);

    /* DVV set: two clients write from the same read; both are siblings
     * until a write from a read of both. */
    consensio_dvvset *key = NULL;
    consensio_vclock *read = NULL, *both = NULL;
    CHECK_OK(consensio_dvvset_new(&key));
    CHECK_OK(consensio_dvvset_put(key, NULL, 1, (const uint8_t *)"v1", 2));
    CHECK_OK(consensio_dvvset_context(key, &read));
    CHECK_OK(consensio_dvvset_put(key, read, 1, (const uint8_t *)"v2", 2));
    CHECK_OK(consensio_dvvset_put(key, read, 1, (const uint8_t *)"v3", 2));
    size_t values = 0;
    CHECK_OK(consensio_dvvset_count(key, &values));
    CHECK(values == 2);
    CHECK_OK(consensio_dvvset_context(key, &both));
    CHECK_OK(consensio_dvvset_put(key, both, 1, (const uint8_t *)"v4", 2));
    CHECK_OK(consensio_dvvset_count(key, &values));
    CHECK(values == 1);
    CHECK_OK(consensio_dvvset_value(key, 0, (uint8_t *)value, sizeof value, &len));
    CHECK(len == 2 && memcmp(value, "v4", 2) == 0);
    CHECK_FAILS(consensio_dvvset_value(key, 1, (uint8_t *)value, sizeof value, &len), CONSENSIO_OUT_OF_RANGE);
    CHECK_OK(consensio_dvvset_encode(key, frame, sizeof frame, &len));
    consensio_dvvset *copy = NULL;
    CHECK_OK(consensio_dvvset_decode(frame, len, &copy));
    CHECK_OK(consensio_dvvset_merge(copy, key));
    CHECK_OK(consensio_dvvset_count(copy, &values));
    CHECK(values == 1);
    CHECK_FAILS(consensio_dvvset_put(key, read, 1, NULL, 2), CONSENSIO_NULL_POINTER);
    consensio_vclock_free(read);
    consensio_vclock_free(both);
    consensio_dvvset_free(key);
    consensio_dvvset_free(copy);

    /* Bad input: statuses, nothing changed. */
    CHECK_FAILS(consensio_orset_add(NULL, 1, X, 1), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_orset_add(x, 1, NULL, 3), CONSENSIO_NULL_POINTER);
    CHECK_OK(consensio_orset_count(x, &count));
    CHECK(count == 2);
    const uint8_t garbage[] = {1, 35, 0xff, 0xff, 0xff};
    CHECK_FAILS(consensio_orset_decode(garbage, sizeof garbage, &z), CONSENSIO_MALFORMED);
    /* An element whose dot the (empty) context has not seen. */
    const uint8_t unseen[] = {1, 35, 0, 1, 1, 7, 1, 1, 1};
    CHECK_FAILS(consensio_orset_decode(unseen, sizeof unseen, &z), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_orset_decode(frame, 1, &z), CONSENSIO_MALFORMED);
    CHECK_OK(consensio_orset_encode(x, frame, sizeof frame, &len));
    frame[1] = 31; /* a set's frame is no counter */
    consensio_gcounter *wrong = NULL;
    CHECK_FAILS(consensio_gcounter_decode(frame, len, &wrong), CONSENSIO_MALFORMED);
    CHECK(z == NULL && wrong == NULL);
    CHECK_FAILS(consensio_orset_merge(x, NULL), CONSENSIO_NULL_POINTER);
    consensio_orset_free(x);
    consensio_orset_free(y);
    return report("test_crdt");
}
