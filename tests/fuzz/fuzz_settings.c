/*
 * libFuzzer harness for the settings loader: any bytes either are refused with one line
 * (NUL-terminated, no line break, not empty) or yield settings whose every field is
 * within its documented range. Parsing the same bytes twice gives the same result, so
 * nothing carries over from one parse to the next (cJSON's arena is reused).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL) {
        abort();
    }
}

static void check_settings(const struct stsm_settings *s)
{
    check_text(s->network.interface, sizeof s->network.interface);
    check_text(s->tls.trust_store, sizeof s->tls.trust_store);
    check_text(s->device.ehlo_name, sizeof s->device.ehlo_name);
    check_text(s->mail.from, sizeof s->mail.from);
    check_text(s->mail.from_name, sizeof s->mail.from_name);
    check_text(s->delivery.relay_host, sizeof s->delivery.relay_host);
    check_text(s->delivery.relay_user, sizeof s->delivery.relay_user);
    check_text(s->delivery.relay_password, sizeof s->delivery.relay_password);
    check_text(s->delivery.relay_policy_domain, sizeof s->delivery.relay_policy_domain);
    check_text(s->mta_sts.cache_file, sizeof s->mta_sts.cache_file);
    if (s->mail.to_count > STSM_SMTP_MAX_RCPT || s->network.dns_count > 2 || s->network.prefix_len > 32 ||
        s->delivery.timeout_percent < 1 || s->delivery.timeout_percent > 1000 ||
        s->mta_sts.fetch_timeout_ms < 1000 || s->mta_sts.fetch_timeout_ms > 600000 ||
        (s->mta_sts.strict_cname & ~7u) != 0 || s->delivery.relay_port == 0 ||
        (s->delivery.mode != STSM_DELIVERY_MX && s->delivery.mode != STSM_DELIVERY_RELAY)) {
        abort();
    }
    for (size_t i = 0; i < s->mail.to_count; i++) {
        check_text(s->mail.to[i], sizeof s->mail.to[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_settings first, second;
    char why[256], why2[256];
    memset(why, 0x55, sizeof why);
    stsm_status_t st = stsm_settings_parse((const char *)data, size, &first, why, sizeof why);
    stsm_status_t st2 = stsm_settings_parse((const char *)data, size, &second, why2, sizeof why2);
    if (st != st2) {
        abort();
    }
    if (st != STSM_OK) {
        size_t n = strnlen(why, sizeof why);
        if (st != STSM_ERR_ARGUMENT || n == 0 || n == sizeof why || memchr(why, '\n', n) != NULL ||
            strcmp(why, why2) != 0) {
            abort();
        }
        return 0;
    }
    check_settings(&first);
    if (memcmp(&first.network, &second.network, sizeof first.network) != 0 ||
        strcmp(first.mail.from, second.mail.from) != 0 || first.mail.to_count != second.mail.to_count ||
        first.delivery.mode != second.delivery.mode || first.delivery.relay_port != second.delivery.relay_port ||
        first.delivery.tls_level != second.delivery.tls_level) {
        abort();
    }
    return 0;
}
