/* consensio_breaker_*, consensio_retry_*, consensio_budget_*: the breaker's
 * states driven end to end, retries under both budgets, and bad input. */
#include <stdint.h>

#include "check.h"

/* One call at `now` ending with `outcome` one ms later. */
static void call(struct consensio_breaker *b, uint64_t now, uint32_t outcome) {
    struct consensio_permit permit;
    uint32_t recorded = 99;
    CHECK_OK(consensio_breaker_acquire(b, now, &permit));
    CHECK_OK(consensio_breaker_on_result(b, now + 1, &permit, outcome, &recorded));
    CHECK(recorded == CONSENSIO_RECORDED_COUNTED);
}

static void breaker(void) {
    struct consensio_breaker_config config;
    CHECK_OK(consensio_breaker_config_default(&config));
    CHECK(config.failure_rate_threshold == 50.0f && config.window_size == 100);
    CHECK(config.minimum_calls == 100 && config.permitted_calls_in_half_open == 10);
    CHECK(config.open_wait_ms == 60000 && config.open_wait_multiplier == 1.0);
    config.window_size = 10;
    config.minimum_calls = 4;
    config.permitted_calls_in_half_open = 2;
    config.open_wait_ms = 1000;
    config.open_wait_multiplier = 2.0;
    config.open_wait_max_ms = 4000;

    struct consensio_breaker *b = NULL;
    CHECK_OK(consensio_breaker_new(&config, &b));
    uint32_t state = 99;
    for (uint64_t i = 0; i < 4; i++) call(b, i, i % 2 ? CONSENSIO_CALL_FAILURE : CONSENSIO_CALL_SUCCESS);
    CHECK_OK(consensio_breaker_current_state(b, &state));
    CHECK(state == CONSENSIO_BREAKER_OPEN);

    struct consensio_breaker_metrics m;
    CHECK_OK(consensio_breaker_window_metrics(b, 10, &m));
    CHECK(m.calls == 0 && m.failure_rate == -1.0f);

    /* Refused while open, until the deadline. */
    struct consensio_permit permit = {0, 0, 0};
    CHECK_FAILS(consensio_breaker_acquire(b, 500, &permit), CONSENSIO_REJECTED);
    CHECK(permit.at_ms == 0 && permit.period == 0);
    uint8_t has = 0;
    uint64_t deadline = 0;
    CHECK_OK(consensio_breaker_next_deadline(b, &has, &deadline));
    CHECK(has == 1 && deadline == 1004);

    /* Two trials; a third is refused; both fail: open again, twice as long. */
    struct consensio_permit t1, t2;
    CHECK_OK(consensio_breaker_acquire(b, 1004, &t1));
    CHECK_OK(consensio_breaker_acquire(b, 1004, &t2));
    CHECK_FAILS(consensio_breaker_acquire(b, 1004, &permit), CONSENSIO_REJECTED);
    uint32_t recorded = 99;
    /* A made-up trial (a slot not out) is refused. */
    struct consensio_permit made_up = t1;
    made_up.slot = 17;
    CHECK_FAILS(consensio_breaker_on_result(b, 1005, &made_up, CONSENSIO_CALL_SUCCESS, &recorded),
                CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_breaker_on_result(b, 1010, &t1, CONSENSIO_CALL_FAILURE, &recorded));
    CHECK_OK(consensio_breaker_on_result(b, 1010, &t2, CONSENSIO_CALL_FAILURE, &recorded));
    CHECK_OK(consensio_breaker_next_deadline(b, &has, &deadline));
    CHECK(has == 1 && deadline == 3010);
    /* A trial reported again after its period ended is stale: nothing changes. */
    CHECK_OK(consensio_breaker_on_result(b, 1011, &t2, CONSENSIO_CALL_SUCCESS, &recorded));
    CHECK(recorded == CONSENSIO_RECORDED_STALE);

    /* The transitions, in order. */
    uint32_t from, to;
    uint64_t at;
    uint32_t seen[3][2];
    int n = 0;
    for (;;) {
        CHECK_OK(consensio_breaker_poll_transition(b, &has, &from, &to, &at));
        if (!has || n == 3) break;
        seen[n][0] = from;
        seen[n][1] = to;
        n++;
    }
    CHECK(n == 3);
    CHECK(seen[0][0] == CONSENSIO_BREAKER_CLOSED && seen[0][1] == CONSENSIO_BREAKER_OPEN);
    CHECK(seen[1][0] == CONSENSIO_BREAKER_OPEN && seen[1][1] == CONSENSIO_BREAKER_HALF_OPEN);
    CHECK(seen[2][0] == CONSENSIO_BREAKER_HALF_OPEN && seen[2][1] == CONSENSIO_BREAKER_OPEN);

    /* Forced open, then disabled: the caller's orders. */
    CHECK_OK(consensio_breaker_transition_to(b, CONSENSIO_BREAKER_FORCED_OPEN, 2000));
    CHECK_FAILS(consensio_breaker_acquire(b, 100000, &permit), CONSENSIO_REJECTED);
    CHECK_OK(consensio_breaker_transition_to(b, CONSENSIO_BREAKER_DISABLED, 2001));
    CHECK_OK(consensio_breaker_acquire(b, 2002, &permit));
    CHECK_OK(consensio_breaker_on_result(b, 2003, &permit, CONSENSIO_CALL_FAILURE, &recorded));
    CHECK(recorded == CONSENSIO_RECORDED_IGNORED);
    CHECK_OK(consensio_breaker_tick(b, 5000));

    /* Bad input. */
    state = 77;
    CHECK_FAILS(consensio_breaker_transition_to(b, 6, 0), CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_breaker_current_state(b, &state));
    CHECK(state == CONSENSIO_BREAKER_DISABLED);
    CHECK_FAILS(consensio_breaker_on_result(b, 0, &permit, 3, &recorded), CONSENSIO_INVALID_ARGUMENT);
    struct consensio_permit forged = {0, 1000, UINT32_MAX};
    CHECK_FAILS(consensio_breaker_on_result(b, 0, &forged, CONSENSIO_CALL_SUCCESS, &recorded),
                CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_breaker_acquire(NULL, 0, &permit), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_breaker_acquire(b, 0, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_breaker_on_result(b, 0, NULL, 0, &recorded), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_breaker_current_state(b, NULL), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_breaker_poll_transition(b, &has, &from, NULL, &at), CONSENSIO_NULL_POINTER);
    consensio_breaker_free(b);

    struct consensio_breaker *none = NULL;
    struct consensio_breaker_config bad = config;
    bad.failure_rate_threshold = 0.0f;
    CHECK_FAILS(consensio_breaker_new(&bad, &none), CONSENSIO_INVALID_ARGUMENT);
    bad = config;
    bad.window_kind = 2;
    CHECK_FAILS(consensio_breaker_new(&bad, &none), CONSENSIO_INVALID_ARGUMENT);
    bad = config;
    bad.window_size = 0;
    CHECK_FAILS(consensio_breaker_new(&bad, &none), CONSENSIO_INVALID_ARGUMENT);
    bad = config;
    bad.open_wait_multiplier = 0.5;
    CHECK_FAILS(consensio_breaker_new(&bad, &none), CONSENSIO_INVALID_ARGUMENT);
    CHECK(none == NULL);
    CHECK_FAILS(consensio_breaker_new(NULL, &none), CONSENSIO_NULL_POINTER);
    consensio_breaker_free(NULL);
}

static void retry(void) {
    struct consensio_retry_policy policy;
    CHECK_OK(consensio_retry_policy_default(0, &policy));
    CHECK(policy.max_attempts == 3 && policy.initial_ms == 100 && policy.jitter == CONSENSIO_JITTER_FULL);
    policy.jitter = CONSENSIO_JITTER_NONE;
    policy.max_attempts = 4;

    /* Without a budget: 100, 200, then the attempts run out. */
    struct consensio_retry *r = NULL;
    CHECK_OK(consensio_retry_new(&policy, 1, &r));
    uint32_t decision = 99;
    uint64_t delay = 0;
    CHECK_OK(consensio_retry_on_failure(r, NULL, CONSENSIO_FAILURE_TRANSIENT, -1, &decision, &delay));
    CHECK(decision == CONSENSIO_RETRY_AFTER && delay == 100);
    CHECK_OK(consensio_retry_on_failure(r, NULL, CONSENSIO_FAILURE_TIMEOUT, 2500, &decision, &delay));
    CHECK(decision == CONSENSIO_RETRY_AFTER && delay == 2500);
    CHECK_OK(consensio_retry_on_failure(r, NULL, CONSENSIO_FAILURE_TRANSIENT, -1, &decision, &delay));
    CHECK(decision == CONSENSIO_RETRY_AFTER && delay == 100);
    uint32_t attempts = 0;
    CHECK_OK(consensio_retry_attempts(r, &attempts));
    CHECK(attempts == 4);
    CHECK_OK(consensio_retry_on_failure(r, NULL, CONSENSIO_FAILURE_TRANSIENT, -1, &decision, &delay));
    CHECK(decision == CONSENSIO_GIVE_UP_ATTEMPTS);

    /* Bad input leaves the retry as it was. */
    CHECK_FAILS(consensio_retry_on_failure(r, NULL, 3, -1, &decision, &delay), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_retry_on_failure(r, NULL, 0, -3, &decision, &delay), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_retry_on_failure(r, NULL, 0, -1, NULL, &delay), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_retry_on_failure(NULL, NULL, 0, -1, &decision, &delay), CONSENSIO_NULL_POINTER);
    consensio_retry_free(r);

    /* gRPC throttling: 10 tokens; the fifth failure leaves 5, not more than half. */
    struct consensio_budget *grpc = NULL;
    CHECK_OK(consensio_budget_new_grpc(10, 0.1, &grpc));
    int retried = 0;
    for (uint64_t call = 0; call < 5; call++) {
        CHECK_OK(consensio_retry_new(&policy, call, &r));
        CHECK_OK(consensio_retry_on_failure(r, grpc, CONSENSIO_FAILURE_TRANSIENT, -1, &decision, &delay));
        if (decision == CONSENSIO_RETRY_AFTER) retried++;
        else CHECK(decision == CONSENSIO_GIVE_UP_BUDGET);
        consensio_retry_free(r);
    }
    CHECK(retried == 4);
    uint64_t level = 0, max = 0;
    CHECK_OK(consensio_budget_level(grpc, &level, &max));
    CHECK(level == 5000 && max == 10000);
    /* A permanent failure costs nothing and is not retried. */
    CHECK_OK(consensio_retry_new(&policy, 9, &r));
    CHECK_OK(consensio_retry_on_failure(r, grpc, CONSENSIO_FAILURE_PERMANENT, -1, &decision, &delay));
    CHECK(decision == CONSENSIO_GIVE_UP_NOT_RETRYABLE);
    CHECK_OK(consensio_retry_on_success(r, grpc));
    CHECK_OK(consensio_budget_level(grpc, &level, &max));
    CHECK(level == 5100);
    consensio_retry_free(r);
    consensio_budget_free(grpc);

    /* The AWS quota: a retry costs 5, its success gives the 5 back. */
    struct consensio_budget *aws = NULL;
    CHECK_OK(consensio_budget_new_aws_standard(&aws));
    CHECK_OK(consensio_retry_policy_default(1, &policy));
    CHECK(policy.initial_ms == 1000 && policy.max_ms == 20000);
    CHECK_OK(consensio_retry_new(&policy, 3, &r));
    CHECK_OK(consensio_retry_on_failure(r, aws, CONSENSIO_FAILURE_TRANSIENT, -1, &decision, &delay));
    CHECK(decision == CONSENSIO_RETRY_AFTER && delay <= 1000);
    CHECK_OK(consensio_budget_level(aws, &level, &max));
    CHECK(level == 495 && max == 500);
    CHECK_OK(consensio_retry_on_failure(r, aws, CONSENSIO_FAILURE_TRANSIENT, -2, &decision, &delay));
    CHECK(decision == CONSENSIO_GIVE_UP_PUSHBACK);
    CHECK_OK(consensio_retry_on_success(r, aws));
    CHECK_OK(consensio_budget_level(aws, &level, &max));
    CHECK(level == 500);
    consensio_retry_free(r);
    consensio_budget_free(aws);

    struct consensio_budget *none = NULL;
    CHECK_FAILS(consensio_budget_new_grpc(0, 0.1, &none), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_budget_new_grpc(10, 0.0, &none), CONSENSIO_INVALID_ARGUMENT);
    CHECK(none == NULL);
    struct consensio_retry *no_retry = NULL;
    policy.jitter = 4;
    CHECK_FAILS(consensio_retry_new(&policy, 0, &no_retry), CONSENSIO_INVALID_ARGUMENT);
    policy.jitter = CONSENSIO_JITTER_FULL;
    policy.max_attempts = 0;
    CHECK_FAILS(consensio_retry_new(&policy, 0, &no_retry), CONSENSIO_INVALID_ARGUMENT);
    CHECK(no_retry == NULL);
    CHECK_FAILS(consensio_budget_level(NULL, &level, &max), CONSENSIO_NULL_POINTER);
    consensio_budget_free(NULL);
    consensio_retry_free(NULL);
}

static void hedge(void) {
    struct consensio_hedge *h = NULL;
    struct consensio_hedge_step step;
    CHECK_OK(consensio_hedge_new(3, 50, 0, &h));
    uint8_t has = 0;
    uint64_t due = 0;
    CHECK_OK(consensio_hedge_next_deadline(h, &has, &due));
    CHECK(has == 1 && due == 50);
    CHECK_OK(consensio_hedge_poll(h, 49, NULL, &step));
    CHECK(step.status == CONSENSIO_HEDGE_PENDING);
    CHECK_OK(consensio_hedge_poll(h, 50, NULL, &step));
    CHECK(step.status == CONSENSIO_HEDGE_SEND && step.attempt == 1);
    /* Copy 0 fails transiently: copy 2 is due at once. */
    CHECK_OK(consensio_hedge_on_failure(h, 60, 0, CONSENSIO_FAILURE_TRANSIENT, NULL, &step));
    CHECK(step.status == CONSENSIO_HEDGE_PENDING);
    CHECK_OK(consensio_hedge_poll(h, 60, NULL, &step));
    CHECK(step.status == CONSENSIO_HEDGE_SEND && step.attempt == 2);
    /* Copy 2 answers first: cancel copy 1. */
    CHECK_OK(consensio_hedge_on_success(h, 2, NULL, &step));
    CHECK(step.status == CONSENSIO_HEDGE_SUCCEEDED && step.attempt == 2 && step.cancel == 0x2);
    CHECK_OK(consensio_hedge_on_success(h, 1, NULL, &step));
    CHECK(step.status == CONSENSIO_HEDGE_IGNORED);
    CHECK_OK(consensio_hedge_next_deadline(h, &has, &due));
    CHECK(has == 0);
    /* Bad input. */
    step.status = 99;
    CHECK_FAILS(consensio_hedge_on_failure(h, 0, 0, 7, NULL, &step), CONSENSIO_INVALID_ARGUMENT);
    CHECK(step.status == 99);
    CHECK_FAILS(consensio_hedge_poll(NULL, 0, NULL, &step), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_hedge_poll(h, 0, NULL, NULL), CONSENSIO_NULL_POINTER);
    consensio_hedge_free(h);

    /* With a budget: the AWS quota pays 5 a copy. */
    struct consensio_budget *quota = NULL;
    CHECK_OK(consensio_budget_new_aws_standard(&quota));
    CHECK_OK(consensio_hedge_new(2, 10, 0, &h));
    CHECK_OK(consensio_hedge_poll(h, 10, quota, &step));
    CHECK(step.status == CONSENSIO_HEDGE_SEND);
    uint64_t level = 0, max = 0;
    CHECK_OK(consensio_budget_level(quota, &level, &max));
    CHECK(level == 495);
    CHECK_OK(consensio_hedge_on_failure(h, 20, 1, CONSENSIO_FAILURE_PERMANENT, quota, &step));
    CHECK(step.status == CONSENSIO_HEDGE_FAILED && step.cancel == 0x1);
    consensio_hedge_free(h);
    consensio_budget_free(quota);

    struct consensio_hedge *none = NULL;
    CHECK_FAILS(consensio_hedge_new(0, 10, 0, &none), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_hedge_new(65, 10, 0, &none), CONSENSIO_INVALID_ARGUMENT);
    CHECK(none == NULL);
    consensio_hedge_free(NULL);
}

static void run_checks(struct consensio_router *r, uint64_t now, int home_up) {
    uint8_t has = 1;
    uint64_t id = 0;
    for (;;) {
        CHECK_OK(consensio_router_poll_health_check(r, now, &has, &id));
        if (!has) break;
        CHECK_OK(consensio_router_on_health_check(r, now, id, id >= 10 || home_up));
    }
}

static void router(void) {
    struct consensio_router_config config;
    CHECK_OK(consensio_router_config_default(&config));
    CHECK(config.consecutive_failures == 5 && config.max_ejection_percent == 10);
    CHECK(config.base_ejection_ms == 30000 && config.health_checks == 1);
    config.health_interval_ms = 1000;
    const struct consensio_endpoint endpoints[3] = {
        {.id = 1, .priority = 0, .weight = 3, .distance = 0},
        {.id = 2, .priority = 0, .weight = 1, .distance = 0},
        {.id = 10, .priority = 1, .weight = 1, .distance = 0},
    };
    struct consensio_router *r = NULL;
    CHECK_OK(consensio_router_new(&config, endpoints, 3, 0, &r));
    uint64_t picks[4];
    for (int i = 0; i < 4; i++) CHECK_OK(consensio_router_pick(r, 0, &picks[i]));
    CHECK(picks[0] == 1 && picks[1] == 1 && picks[2] == 2 && picks[3] == 1);

    /* The home tier fails three checks: traffic fails over; two good ones bring it back. */
    for (uint64_t now = 0; now <= 2000; now += 1000) run_checks(r, now, 0);
    uint64_t id = 0;
    CHECK_OK(consensio_router_pick(r, 2000, &id));
    CHECK(id == 10);
    run_checks(r, 3000, 1);
    CHECK_OK(consensio_router_pick(r, 3000, &id));
    CHECK(id == 10);
    run_checks(r, 4000, 1);
    CHECK_OK(consensio_router_pick(r, 4000, &id));
    CHECK(id == 1 || id == 2);

    /* Five failures in a row eject endpoint 1 for 30 s. */
    for (int i = 0; i < 5; i++) CHECK_OK(consensio_router_on_response(r, 5000, 1, 20, 0));
    uint8_t available = 1;
    uint32_t ejections = 0;
    CHECK_OK(consensio_router_endpoint_state(r, 5000, 1, &available, &ejections));
    CHECK(available == 0 && ejections == 1);
    CHECK_OK(consensio_router_endpoint_state(r, 35000, 1, &available, &ejections));
    CHECK(available == 1);
    uint64_t next = 0;
    CHECK_OK(consensio_router_tick(r, 5000, &next));
    CHECK(next == 5000);

    /* Everything down: REJECTED. Bad input. */
    for (uint64_t now = 5000; now <= 7000; now += 1000) {
        uint8_t has = 1;
        for (;;) {
            CHECK_OK(consensio_router_poll_health_check(r, now, &has, &id));
            if (!has) break;
            CHECK_OK(consensio_router_on_health_check(r, now, id, 0));
        }
    }
    id = 77;
    CHECK_FAILS(consensio_router_pick(r, 7000, &id), CONSENSIO_REJECTED);
    CHECK(id == 77);
    CHECK_FAILS(consensio_router_endpoint_state(r, 0, 99, &available, &ejections), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_router_pick(NULL, 0, &id), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_router_pick(r, 0, NULL), CONSENSIO_NULL_POINTER);
    consensio_router_free(r);

    struct consensio_router *none = NULL;
    CHECK_FAILS(consensio_router_new(&config, endpoints, 0, 0, &none), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_router_new(&config, NULL, 3, 0, &none), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_router_new(&config, endpoints, SIZE_MAX, 0, &none), CONSENSIO_BAD_LENGTH);
    struct consensio_router_config bad = config;
    bad.balance = 3;
    CHECK_FAILS(consensio_router_new(&bad, endpoints, 3, 0, &none), CONSENSIO_INVALID_ARGUMENT);
    bad = config;
    bad.ewma_alpha = 0.0;
    CHECK_FAILS(consensio_router_new(&bad, endpoints, 3, 0, &none), CONSENSIO_INVALID_ARGUMENT);
    const struct consensio_endpoint twice[2] = {{.id = 1, .weight = 1}, {.id = 1, .weight = 1}};
    CHECK_FAILS(consensio_router_new(&config, twice, 2, 0, &none), CONSENSIO_INVALID_ARGUMENT);
    CHECK(none == NULL);
    consensio_router_free(NULL);
}

int main(void) {
    breaker();
    retry();
    hedge();
    router();
    return report("test_resilience");
}
