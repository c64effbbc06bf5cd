#include "stsm_dns_report.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static void add_address(cJSON *array, unsigned family, const uint8_t *bytes)
{
    char text[INET6_ADDRSTRLEN];
    inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes, text, sizeof text);
    cJSON_AddItemToArray(array, cJSON_CreateString(text));
}

/* TXT data is bytes: printable ASCII is kept, anything else becomes the four characters
 * \xNN, so the JSON stays valid whatever the record holds. */
static cJSON *txt_string(const char *data, size_t len)
{
    static char text[4 * STSM_DNS_POOL_SIZE + 1];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)data[i];
        if (b >= 0x20 && b < 0x7f) {
            text[n++] = (char)b;
        } else {
            n += (size_t)snprintf(text + n, 5, "\\x%02x", b);
        }
    }
    text[n] = '\0';
    return cJSON_CreateString(text);
}

static void add_server(cJSON *obj, const ip_addr_t *server)
{
    char text[IPADDR_STRLEN_MAX];
    if (server == NULL || ip_addr_isany(server)) {
        cJSON_AddNullToObject(obj, "server");
        return;
    }
    ipaddr_ntoa_r(server, text, sizeof text);
    cJSON_AddStringToObject(obj, "server", text);
}

cJSON *stsm_dns_report_answer(const char *name, uint16_t type, stsm_status_t status,
                              const struct stsm_dns_answer *answer, const ip_addr_t *server)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "name", name);
    cJSON_AddStringToObject(obj, "type", stsm_dns_type_str(type));
    cJSON_AddStringToObject(obj, "status", stsm_status_id(status));
    add_server(obj, server);
    if (status != STSM_OK || answer == NULL) {
        return obj;
    }
    cJSON_AddStringToObject(obj, "outcome", stsm_dns_outcome_str(answer->outcome));
    cJSON_AddStringToObject(obj, "canonical_name", stsm_dns_str(answer, answer->canonical));
    cJSON *chain = cJSON_AddArrayToObject(obj, "cname_chain");
    for (unsigned i = 0; i < answer->cname_hops; i++) {
        cJSON_AddItemToArray(chain, cJSON_CreateString(stsm_dns_str(answer, answer->chain[i])));
    }
    cJSON *records = cJSON_AddArrayToObject(obj, "records");
    for (size_t i = 0; i < answer->count; i++) {
        const struct stsm_dns_record *rec = &answer->records[i];
        switch (rec->type) {
        case STSM_DNS_TYPE_A:
        case STSM_DNS_TYPE_AAAA:
            add_address(records, rec->type == STSM_DNS_TYPE_A ? 4 : 6, rec->address);
            break;
        case STSM_DNS_TYPE_MX: {
            cJSON *mx = cJSON_CreateObject();
            cJSON_AddNumberToObject(mx, "preference", rec->preference);
            cJSON_AddStringToObject(mx, "exchange", stsm_dns_str(answer, rec->data));
            cJSON_AddItemToArray(records, mx);
            break;
        }
        case STSM_DNS_TYPE_TXT:
            cJSON_AddItemToArray(records, txt_string(stsm_dns_str(answer, rec->data), rec->data_len));
            break;
        default:
            break;
        }
    }
    return obj;
}

static const char *lookup_str(const struct stsm_mx_lookup *lookup)
{
    if (!lookup->done) {
        return "not asked";
    }
    return lookup->status == STSM_OK ? stsm_dns_outcome_str(lookup->outcome)
                                     : stsm_status_id(lookup->status);
}

cJSON *stsm_dns_report_route(const char *domain, stsm_status_t status,
                             const struct stsm_route *route, const struct stsm_mx_set *set)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "name", domain);
    cJSON_AddStringToObject(obj, "type", "MX");
    cJSON_AddStringToObject(obj, "status", stsm_status_id(status));
    add_server(obj, status == STSM_OK ? stsm_route_mx_server(route) : NULL);
    if (status != STSM_OK || set == NULL) {
        return obj;
    }
    unsigned hops;
    const char *canonical = stsm_route_mx_canonical(route, &hops);
    cJSON_AddStringToObject(obj, "canonical_name", canonical);
    cJSON_AddNumberToObject(obj, "cname_hops", hops);
    cJSON_AddStringToObject(obj, "mx", stsm_mx_kind_str(set->kind));
    cJSON_AddBoolToObject(obj, "null_mx_ignored", set->null_ignored);
    cJSON *hosts = cJSON_AddArrayToObject(obj, "hosts");
    for (size_t i = 0; i < set->count; i++) {
        const struct stsm_mx_host *host = &set->hosts[i];
        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "name", host->name);
        cJSON_AddNumberToObject(h, "preference", host->preference);
        cJSON_AddBoolToObject(h, "cname", host->cname);
        cJSON_AddStringToObject(h, "canonical_name", host->canonical);
        cJSON *addresses = cJSON_AddArrayToObject(h, "addresses");
        for (size_t k = 0; k < host->address_count; k++) {
            add_address(addresses, host->addresses[k].family, host->addresses[k].bytes);
        }
        cJSON_AddBoolToObject(h, "addresses_dropped", host->addresses_dropped);
        cJSON_AddStringToObject(h, "a", lookup_str(&host->a));
        cJSON_AddStringToObject(h, "aaaa", lookup_str(&host->aaaa));
        cJSON_AddBoolToObject(h, "from_additional",
                              host->a.from_additional || host->aaaa.from_additional);
        cJSON_AddItemToArray(hosts, h);
    }
    return obj;
}
