/* consensio_ring_*, rendezvous, maglev, bounded loads, jump hash: the same
 * placements as the Rust golden tests; bad input. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define KEY(s) (const uint8_t *)(s), (sizeof(s) - 1)

int main(void) {
    uint64_t position = 0;
    CHECK_OK(consensio_ring_key_position(KEY("consensio"), &position));
    CHECK(position == 0x064b6bf6d3242999ULL);
    uint32_t bucket = 0;
    CHECK_OK(consensio_jump_hash(1, 65536, &bucket));
    CHECK(bucket == 21134);
    CHECK_FAILS(consensio_jump_hash(1, 0, &bucket), CONSENSIO_INVALID_ARGUMENT);

    consensio_ring *ring = NULL;
    CHECK_OK(consensio_ring_new(4, &ring));
    uint64_t owner = 0;
    CHECK_FAILS(consensio_ring_owner(ring, KEY("a"), &owner), CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_ring_add_node(ring, 1, 1, 1, 1));
    CHECK_OK(consensio_ring_add_node(ring, 2, 1, 1, 1));
    CHECK_OK(consensio_ring_add_node(ring, 3, 2, 1, 2));
    CHECK_FAILS(consensio_ring_add_node(ring, 3, 1, 0, 0), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_ring_add_node(ring, 9, 0, 0, 0), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_ring_add_node(ring, 9, UINT32_MAX, 0, 0), CONSENSIO_LIMIT_EXCEEDED);
    CHECK_OK(consensio_ring_owner(ring, KEY("a"), &owner));
    CHECK(owner == 1);
    CHECK_OK(consensio_ring_owner(ring, KEY("b"), &owner));
    CHECK(owner == 2);
    CHECK_OK(consensio_ring_owner(ring, KEY("user:42"), &owner));
    CHECK(owner == 3);
    CHECK_OK(consensio_ring_add_node(ring, 4, 1, 0, 0));
    uint64_t list[4];
    size_t count = 0;
    CHECK_OK(consensio_ring_preference_list(ring, KEY("k0"), 4, 0, list, 4, &count));
    CHECK(count == 4 && list[0] == 1 && list[1] == 2 && list[2] == 3 && list[3] == 4);
    CHECK_OK(consensio_ring_preference_list(ring, KEY("k0"), 4, 1, list, 4, &count));
    CHECK(count == 4 && list[0] == 1 && list[1] == 3 && list[2] == 4 && list[3] == 2);
    CHECK_FAILS(consensio_ring_preference_list(ring, KEY("k0"), 5, 0, list, 4, &count), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK_FAILS(consensio_ring_preference_list(ring, NULL, 3, 2, 0, list, 4, &count), CONSENSIO_NULL_POINTER);
    CHECK_OK(consensio_ring_remove_node(ring, 4));
    CHECK_FAILS(consensio_ring_remove_node(ring, 4), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_ring_owner(NULL, KEY("a"), &owner), CONSENSIO_NULL_POINTER);
    consensio_ring_free(ring);

    consensio_rendezvous *set = NULL;
    CHECK_OK(consensio_rendezvous_new(&set));
    for (uint64_t n = 1; n <= 5; n++) CHECK_OK(consensio_rendezvous_add_node(set, n, (uint32_t)n));
    CHECK_OK(consensio_rendezvous_preference_list(set, KEY("key"), 3, list, 4, &count));
    CHECK(count == 3 && list[0] != list[1] && list[1] != list[2] && list[0] != list[2]);
    CHECK_FAILS(consensio_rendezvous_add_node(set, 1, 1), CONSENSIO_INVALID_ARGUMENT);
    CHECK_OK(consensio_rendezvous_remove_node(set, 5));
    consensio_rendezvous_free(set);

    const uint64_t nodes[3] = {1, 2, 3};
    const uint32_t weights[3] = {1, 1, 2};
    consensio_maglev *table = NULL;
    CHECK_OK(consensio_maglev_new(nodes, weights, 3, 65537, &table));
    int hits[4] = {0};
    for (int i = 0; i < 4000; i++) {
        char key[16];
        int len = snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(consensio_maglev_lookup(table, (const uint8_t *)key, (size_t)len, &owner));
        if (owner >= 1 && owner <= 3) hits[owner]++;
    }
    CHECK(hits[3] > hits[1] && hits[3] > hits[2] && hits[1] + hits[2] + hits[3] == 4000);
    consensio_maglev_free(table);
    CHECK_FAILS(consensio_maglev_new(nodes, weights, 3, 65536, &table), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_maglev_new(nodes, NULL, 3, 65537, &table), CONSENSIO_NULL_POINTER);

    consensio_bounded_ring *bounded = NULL;
    CHECK_OK(consensio_bounded_ring_new(16, 1, 4, &bounded));
    for (uint64_t n = 1; n <= 4; n++) CHECK_OK(consensio_bounded_ring_add_node(bounded, n));
    for (int i = 0; i < 100; i++) {
        char key[16];
        int len = snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(consensio_bounded_ring_assign(bounded, (const uint8_t *)key, (size_t)len, &owner));
    }
    uint64_t load = 0;
    for (uint64_t n = 1; n <= 4; n++) {
        CHECK_OK(consensio_bounded_ring_load(bounded, n, &load));
        CHECK(load <= 32); /* ceil(1.25 * 100 / 4) */
    }
    uint64_t held = 0;
    CHECK_OK(consensio_bounded_ring_remove_node(bounded, 4, &held));
    CHECK_FAILS(consensio_bounded_ring_load(bounded, 4, &load), CONSENSIO_INVALID_ARGUMENT);
    CHECK_FAILS(consensio_bounded_ring_new(16, 1, 0, &bounded), CONSENSIO_INVALID_ARGUMENT);
    consensio_bounded_ring_free(bounded);
    return report("test_ring");
}
