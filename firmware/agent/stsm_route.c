#include "stsm_route.h"

#include <string.h>

#include "stsm_port.h"

#define JOBS_PER_HOST 2   /* A, then AAAA */

static uint32_t port_random_below(void *arg, uint32_t bound)
{
    (void)arg;
    return stsm_port_random_u32() % bound;
}

static void route_finish(struct stsm_route *route, stsm_status_t status)
{
    route->done(route->done_arg, status, status == STSM_OK ? &route->set : NULL);
}

static void on_address(void *arg, stsm_status_t status, const struct stsm_dns_answer *answer,
                       const ip_addr_t *server);

/* Starts the next address lookup that is still needed on `slot`; false when none is left. */
static bool start_next_lookup(struct stsm_route *route, struct stsm_route_slot *slot)
{
    while (route->next_job < route->set.count * JOBS_PER_HOST) {
        unsigned job = route->next_job++;
        struct stsm_mx_host *host = &route->set.hosts[job / JOBS_PER_HOST];
        uint16_t type = job % JOBS_PER_HOST == 0 ? STSM_DNS_TYPE_A : STSM_DNS_TYPE_AAAA;
        if ((type == STSM_DNS_TYPE_A ? host->a : host->aaaa).done) {
            continue;   /* answered by the additional section */
        }
        if (type == STSM_DNS_TYPE_AAAA && route->ipv4_only) {
            continue;
        }
        slot->job = job;
        stsm_status_t st = stsm_resolver_start(&slot->query, host->name, type, on_address, slot);
        if (st == STSM_OK) {
            route->running++;
            return true;
        }
        stsm_mx_record_lookup(&route->set, host, type, st, NULL);
    }
    return false;
}

static void on_address(void *arg, stsm_status_t status, const struct stsm_dns_answer *answer,
                       const ip_addr_t *server)
{
    struct stsm_route_slot *slot = arg;
    struct stsm_route *route = slot->route;
    (void)server;
    struct stsm_mx_host *host = &route->set.hosts[slot->job / JOBS_PER_HOST];
    stsm_mx_record_lookup(&route->set, host, slot->job % JOBS_PER_HOST == 0 ? STSM_DNS_TYPE_A : STSM_DNS_TYPE_AAAA,
                          status, answer);
    route->running--;
    if (!start_next_lookup(route, slot) && route->running == 0) {
        route_finish(route, STSM_OK);
    }
}

static void on_mx(void *arg, stsm_status_t status, const struct stsm_dns_answer *answer,
                  const ip_addr_t *server)
{
    struct stsm_route *route = arg;
    if (status != STSM_OK) {
        route_finish(route, status);
        return;
    }
    ip_addr_copy(route->mx_server, *server);
    route->mx_cname_hops = answer->cname_hops;
    strcpy(route->mx_canonical, stsm_dns_str(answer, answer->canonical));

    status = stsm_mx_plan(route->set.domain, answer, port_random_below, NULL, &route->set);
    if (status != STSM_OK) {
        route_finish(route, status);
        return;
    }
    stsm_mx_take_additional(&route->set, answer);

    /* The MX answer is the resolver's one answer, valid during this call only: nothing of
     * it is read once the lookups below start (each reads the cache into it later). */
    route->next_job = 0;
    route->running = 0;
    for (size_t i = 0; i < sizeof route->slots / sizeof route->slots[0]; i++) {
        if (!start_next_lookup(route, &route->slots[i])) {
            break;
        }
    }
    if (route->running == 0) {
        route_finish(route, STSM_OK);
    }
}

static stsm_status_t route_start(struct stsm_route *route, const char *domain, bool ipv4_only,
                                 stsm_route_done_fn done, void *arg)
{
    if (domain == NULL || strlen(domain) > STSM_HOSTNAME_MAX || done == NULL) {
        return STSM_ERR_ARGUMENT;
    }
    memset(&route->set, 0, offsetof(struct stsm_mx_set, hosts));
    strcpy(route->set.domain, domain);
    route->done = done;
    route->done_arg = arg;
    route->ipv4_only = ipv4_only;
    route->mx_cname_hops = 0;
    route->mx_canonical[0] = '\0';
    ip_addr_set_zero(&route->mx_server);
    for (size_t i = 0; i < sizeof route->slots / sizeof route->slots[0]; i++) {
        route->slots[i].route = route;
    }
    return stsm_resolver_start(&route->slots[0].query, domain, STSM_DNS_TYPE_MX, on_mx, route);
}

stsm_status_t stsm_route_start(struct stsm_route *route, const char *domain,
                               stsm_route_done_fn done, void *arg)
{
    return route_start(route, domain, false, done, arg);
}

stsm_status_t stsm_route_start_ipv4(struct stsm_route *route, const char *domain,
                                    stsm_route_done_fn done, void *arg)
{
    return route_start(route, domain, true, done, arg);
}

const ip_addr_t *stsm_route_mx_server(const struct stsm_route *route)
{
    return &route->mx_server;
}

const char *stsm_route_mx_canonical(const struct stsm_route *route, unsigned *hops)
{
    *hops = route->mx_cname_hops;
    return route->mx_canonical;
}
