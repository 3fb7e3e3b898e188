/* consensio_merkle_*: RFC 6962 vectors, proofs, diff; bad input. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static const char *RFC_ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";

static int hex_equals(const uint8_t *hash, const char *hex) {
    char buf[65];
    for (int i = 0; i < 32; i++) snprintf(buf + 2 * i, 3, "%02x", hash[i]);
    return strcmp(buf, hex) == 0;
}

int main(void) {
    /* The eight leaves of RFC 6962's reference tests. */
    static const uint8_t l1[] = {0x00}, l2[] = {0x10}, l3[] = {0x20, 0x21}, l4[] = {0x30, 0x31},
                         l5[] = {0x40, 0x41, 0x42, 0x43},
                         l6[] = {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
                         l7[] = {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
                                 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f};
    const uint8_t *leaves[8] = {NULL, l1, l2, l3, l4, l5, l6, l7};
    const size_t lens[8] = {0, 1, 1, 2, 2, 4, 8, 16};
    uint8_t root[32];
    CHECK_OK(consensio_merkle_root(leaves, lens, 8, root));
    CHECK(hex_equals(root, RFC_ROOT_8));
    CHECK_OK(consensio_merkle_root(NULL, NULL, 0, root));
    CHECK(hex_equals(root, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));

    consensio_merkle_tree *tree = NULL;
    CHECK_OK(consensio_merkle_tree_new(leaves, lens, 5, &tree));
    uint8_t old_root[32];
    CHECK_OK(consensio_merkle_tree_root_at(tree, 5, old_root));
    for (int i = 5; i < 8; i++) CHECK_OK(consensio_merkle_tree_push(tree, leaves[i], lens[i]));
    uint64_t size = 0;
    CHECK_OK(consensio_merkle_tree_len(tree, &size));
    CHECK(size == 8);
    CHECK_OK(consensio_merkle_tree_root_at(tree, 8, root));
    CHECK(hex_equals(root, RFC_ROOT_8));

    /* Inclusion of every leaf, and a flipped bit is rejected. */
    uint8_t proof[32 * 8];
    size_t count = 0;
    for (uint64_t i = 0; i < 8; i++) {
        uint8_t leaf[32];
        CHECK_OK(consensio_merkle_leaf_hash(leaves[i], lens[i], leaf));
        CHECK_OK(consensio_merkle_tree_inclusion_proof(tree, i, 8, proof, 8, &count));
        CHECK(count == 3);
        CHECK_OK(consensio_merkle_verify_inclusion(leaf, i, 8, proof, count, root));
        proof[7] ^= 1;
        CHECK_FAILS(consensio_merkle_verify_inclusion(leaf, i, 8, proof, count, root),
                    CONSENSIO_VERIFICATION_FAILED);
        proof[7] ^= 1;
        CHECK_FAILS(consensio_merkle_verify_inclusion(leaf, i, 8, proof, count - 1, root),
                    CONSENSIO_VERIFICATION_FAILED);
        CHECK_FAILS(consensio_merkle_verify_inclusion(leaf, 8, 8, proof, count, root), CONSENSIO_OUT_OF_RANGE);
    }
    CHECK_FAILS(consensio_merkle_tree_inclusion_proof(tree, 0, 8, proof, 2, &count), CONSENSIO_BUFFER_TOO_SMALL);
    CHECK(count == 3);
    CHECK_FAILS(consensio_merkle_tree_inclusion_proof(tree, 0, 9, proof, 8, &count), CONSENSIO_OUT_OF_RANGE);

    CHECK_OK(consensio_merkle_tree_consistency_proof(tree, 5, 8, proof, 8, &count));
    CHECK_OK(consensio_merkle_verify_consistency(5, 8, old_root, root, proof, count));
    CHECK_FAILS(consensio_merkle_verify_consistency(5, 8, root, root, proof, count), CONSENSIO_VERIFICATION_FAILED);
    CHECK_FAILS(consensio_merkle_verify_consistency(9, 8, old_root, root, proof, count), CONSENSIO_OUT_OF_RANGE);

    /* Diff against a tree with leaves 1, 2 and 6 changed. */
    static const uint8_t x[] = {0xff};
    const uint8_t *changed[8] = {NULL, x, x, l3, l4, l5, x, l7};
    const size_t changed_lens[8] = {0, 1, 1, 2, 2, 4, 1, 16};
    consensio_merkle_tree *other = NULL;
    CHECK_OK(consensio_merkle_tree_new(changed, changed_lens, 8, &other));
    uint64_t ranges[8];
    CHECK_OK(consensio_merkle_tree_diff(tree, other, ranges, 4, &count));
    CHECK(count == 2 && ranges[0] == 1 && ranges[1] == 3 && ranges[2] == 6 && ranges[3] == 7);
    CHECK_FAILS(consensio_merkle_tree_diff(tree, other, ranges, 1, &count), CONSENSIO_BUFFER_TOO_SMALL);
    consensio_merkle_tree *small = NULL;
    CHECK_OK(consensio_merkle_tree_new(leaves, lens, 3, &small));
    CHECK_FAILS(consensio_merkle_tree_diff(tree, small, ranges, 4, &count), CONSENSIO_INVALID_ARGUMENT);

    /* NULLs and impossible lengths. */
    CHECK_FAILS(consensio_merkle_root(leaves, NULL, 8, root), CONSENSIO_NULL_POINTER);
    const uint8_t *with_null[2] = {l1, NULL};
    const size_t null_lens[2] = {1, 3};
    CHECK_FAILS(consensio_merkle_root(with_null, null_lens, 2, root), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_merkle_verify_inclusion(NULL, 0, 8, proof, 3, root), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_merkle_verify_inclusion(root, 0, 8, proof, SIZE_MAX / 16, root), CONSENSIO_BAD_LENGTH);
    CHECK_FAILS(consensio_merkle_tree_push(NULL, l1, 1), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_merkle_tree_push(tree, NULL, 1), CONSENSIO_NULL_POINTER);
    CHECK_FAILS(consensio_merkle_leaf_hash(l1, 1, NULL), CONSENSIO_NULL_POINTER);

    consensio_merkle_tree_free(tree);
    consensio_merkle_tree_free(other);
    consensio_merkle_tree_free(small);
    consensio_merkle_tree_free(NULL);
    return report("test_merkle");
}
