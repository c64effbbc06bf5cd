/* Every status has a description and a distinct stable identifier. */
#include "stsm_check.h"
#include "stsm_status.h"

int main(void)
{
    for (int a = 0; a < STSM_STATUS_COUNT; a++) {
        CHECK_CASE(stsm_status_id((stsm_status_t)a));
        CHECK(strcmp(stsm_status_str((stsm_status_t)a), "unknown status") != 0);
        CHECK(strcmp(stsm_status_id((stsm_status_t)a), "unknown") != 0);
        for (int b = 0; b < a; b++) {
            CHECK(strcmp(stsm_status_id((stsm_status_t)a), stsm_status_id((stsm_status_t)b)) != 0);
        }
    }
    CHECK_CASE("out of range");
    CHECK_STR(stsm_status_id(STSM_STATUS_COUNT), "unknown");
    CHECK_STR(stsm_status_str((stsm_status_t)-1), "unknown status");
    CHECK_STR(stsm_status_id(STSM_OK), "ok");
    CHECK_STR(stsm_status_id(STSM_ERR_DNS_SERVER_FAILURE), "dns_server_failure");
    return stsm_check_summary("test_status");
}
