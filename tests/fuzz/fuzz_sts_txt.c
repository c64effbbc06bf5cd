/*
 * libFuzzer harness for the MTA-STS TXT record parser: a valid verdict always carries an
 * id of 1 to 32 letters and digits; the others always carry a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_mta_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stsm_sts_txt txt;
    enum stsm_sts_txt_verdict v = stsm_sts_txt_parse((const char *)data, size, &txt);
    if (v != STSM_STS_TXT_VALID) {
        if (txt.reason == NULL) {
            abort();
        }
        return 0;
    }
    size_t n = strlen(txt.id);
    if (n == 0 || n > STSM_STS_ID_MAX) {
        abort();
    }
    return 0;
}
