/*
 * libFuzzer harness for the settings loader: any bytes either are refused with one line
 * (NUL-terminated, no line break, not empty) or yield settings whose every field is
 * within its documented range. Parsing the same bytes twice gives the same result, so
 * nothing carries over from one parse to the next (cJSON's arena is reused).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A text is "" or lies in the struct's own pool, within its limit. */
static void check_text(const struct stsm_settings *s, const char *t, size_t max)
{
    bool in_pool = t >= s->text_pool && t < s->text_pool + s->text_used;
    if (t == NULL || (!in_pool && t[0] != '\0') || strnlen(t, max + 1) > max ||
        (in_pool && memchr(t, '\0', (size_t)(s->text_pool + s->text_used - t)) == NULL)) {
        abort();
    }
}

static void check_settings(const struct stsm_settings *s)
{
    check_text(s, s->network.interface, STSM_SETTINGS_INTERFACE_MAX);
    check_text(s, s->tls.trust_store, STSM_SETTINGS_PATH_MAX);
    check_text(s, s->device.ehlo_name, STSM_SETTINGS_TEXT_MAX);
    check_text(s, s->mail.from, STSM_SETTINGS_TEXT_MAX);
    check_text(s, s->mail.from_name, STSM_SETTINGS_FROM_NAME_MAX);
    check_text(s, s->delivery.relay_host, STSM_SETTINGS_TEXT_MAX);
    check_text(s, s->delivery.relay_user, STSM_SETTINGS_TEXT_MAX);
    check_text(s, s->delivery.relay_password, STSM_SETTINGS_TEXT_MAX);
    check_text(s, s->delivery.relay_policy_domain, STSM_SETTINGS_TEXT_MAX);
    check_text(s, s->mta_sts.cache_file, STSM_SETTINGS_PATH_MAX);
    check_text(s, s->outbox.store_file, STSM_SETTINGS_PATH_MAX);
    if (s->mail.to_count > STSM_SMTP_MAX_RCPT || s->network.dns_count > 2 || s->network.prefix_len > 32 ||
        s->delivery.timeout_percent < 1 || s->delivery.timeout_percent > 1000 ||
        s->mta_sts.fetch_timeout_ms < 1000 || s->mta_sts.fetch_timeout_ms > 600000 ||
        (s->mta_sts.strict_cname & ~7u) != 0 || s->delivery.relay_port == 0 ||
        (s->delivery.mode != STSM_DELIVERY_MX && s->delivery.mode != STSM_DELIVERY_RELAY) ||
        s->delivery.tls_level > STSM_TLS_LEVEL_VERIFY || s->delivery.relay_tls > STSM_RELAY_NONE ||
        s->delivery.attempt_timeout_s < 10 || s->delivery.attempt_timeout_s > 86400 ||
        s->outbox.retry_first_s < 1 || s->outbox.retry_max_s < s->outbox.retry_first_s ||
        s->outbox.retry_max_s > 604800 || s->outbox.give_up_s < 60 || s->outbox.give_up_s > 2592000 ||
        s->outbox.coalesce_window_s > 86400 || s->outbox.domain_hourly_cap > 10000 ||
        s->outbox.store_size < 12288 || s->outbox.store_size > 262144 || s->outbox.store_size % 4096 != 0) {
        abort();
    }
    for (size_t i = 0; i < s->mail.to_count; i++) {
        check_text(s, s->mail.to[i], STSM_SETTINGS_TEXT_MAX);
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
    /* Texts by value: each struct's point into its own pool. */
    if (strcmp(first.network.interface, second.network.interface) != 0 ||
        memcmp(&first.network.dhcp, &second.network.dhcp,
               sizeof first.network - offsetof(struct stsm_settings_network, dhcp)) != 0 ||
        strcmp(first.mail.from, second.mail.from) != 0 || first.mail.to_count != second.mail.to_count ||
        first.delivery.mode != second.delivery.mode || first.delivery.relay_port != second.delivery.relay_port ||
        first.delivery.tls_level != second.delivery.tls_level) {
        abort();
    }
    return 0;
}
