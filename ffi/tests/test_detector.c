/* consensio_detector_* and consensio_phi_accrual_*: a heartbeat detector
 * suspects a silent peer at 300 ms and fails it at 1 s; two live detectors
 * keep each other alive; phi rises with silence; bad input is rejected. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

int main(void) {
    const uint64_t members[3] = {1, 2, 3};
    consensio_participant *a = NULL, *b = NULL;
    CHECK_OK(consensio_detector_new(CONSENSIO_DETECTOR_HEARTBEAT, 1, members, 3, 0, &a));
    CHECK_OK(consensio_detector_new(CONSENSIO_DETECTOR_HEARTBEAT, 2, members, 3, 0, &b));
    /* n3 never speaks; n1 and n2 exchange heartbeats every 100 ms. */
    int suspected_at = -1, failed_at = -1, persisted = 0;
    for (uint64_t now = 0; now <= 1500; now += 50) {
        consensio_participant *nodes[2] = {a, b};
        for (int i = 0; i < 2; i++) CHECK_OK(consensio_participant_tick(nodes[i], now));
        for (int i = 0; i < 2; i++) {
            struct consensio_output out;
            for (;;) {
                CHECK_OK(consensio_participant_poll(nodes[i], &out));
                if (out.kind == CONSENSIO_OUTPUT_NONE) break;
                if (out.kind == CONSENSIO_OUTPUT_PERSIST) {
                    CHECK(out.len == 0 && out.values[0] >= 1);
                    persisted++;
                }
                if (out.kind == CONSENSIO_OUTPUT_SEND && out.peer != 3) {
                    uint8_t frame[64];
                    memcpy(frame, out.data, out.len);
                    CHECK_OK(consensio_participant_handle_message(nodes[1 - i], now, (uint64_t)i + 1, frame, out.len));
                }
                if (i == 0 && out.kind == CONSENSIO_OUTPUT_EVENT) {
                    CHECK(out.event == CONSENSIO_DETECTOR_STATE_CHANGED && out.peer == 3);
                    if (out.values[1] == CONSENSIO_PEER_SUSPECTED) suspected_at = (int)now;
                    if (out.values[1] == CONSENSIO_PEER_FAILED) failed_at = (int)now;
                }
            }
        }
    }
    CHECK(persisted == 2);
    CHECK(suspected_at == 300 && failed_at == 1000);
    uint8_t suspects = 9;
    CHECK_OK(consensio_detector_suspects(a, 3, &suspects));
    CHECK(suspects == 1);
    CHECK_OK(consensio_detector_suspects(a, 2, &suspects));
    CHECK(suspects == 0);
    CHECK_FAILS(consensio_detector_suspects(a, 9, &suspects), CONSENSIO_INVALID_ARGUMENT);

    const uint8_t garbage[] = {1, 19, 0xff};
    CHECK_FAILS(consensio_participant_handle_message(a, 0, 2, garbage, sizeof garbage), CONSENSIO_MALFORMED);
    CHECK_FAILS(consensio_participant_handle_message(a, 0, 2, NULL, 1), CONSENSIO_NULL_POINTER);
    consensio_participant *bad = NULL;
    CHECK_FAILS(consensio_detector_new(CONSENSIO_DETECTOR_PHI, 1, members, 1000000, 0, &bad), CONSENSIO_LIMIT_EXCEEDED);
    CHECK(bad == NULL);
    consensio_participant_free(a);
    consensio_participant_free(b);

    consensio_phi_accrual *phi = NULL;
    CHECK_OK(consensio_phi_accrual_new(&phi));
    for (uint64_t t = 0; t <= 10000; t += 1000) CHECK_OK(consensio_phi_accrual_heartbeat(phi, t));
    double early = 0, late = 0;
    CHECK_OK(consensio_phi_accrual_phi(phi, 10500, &early));
    CHECK_OK(consensio_phi_accrual_phi(phi, 14000, &late));
    CHECK(early < 1.0 && late > 8.0);
    CHECK_FAILS(consensio_phi_accrual_phi(phi, 1, NULL), CONSENSIO_NULL_POINTER);
    consensio_phi_accrual_free(phi);
    return report("test_detector");
}
