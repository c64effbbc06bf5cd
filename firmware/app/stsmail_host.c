/* stsmail host simulation: the command-line front end over lwIP on a TAP device. */
#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "lwip/dns.h"
#include "lwip/init.h"
#include "mbedtls/version.h"
#include "stsm_cli.h"
#include "stsm_dns_report.h"
#include "stsm_host_net.h"
#include "stsm_probe.h"
#include "stsm_resolver.h"
#include "stsm_route.h"

/* Exit statuses follow sysexits.h so scripts can tell bad usage from a network outage. */
enum {
    EXIT_USAGE = 64,
    EXIT_DATAERR = 65,
    EXIT_NOHOST = 68,
    EXIT_UNAVAILABLE = 69,
    EXIT_OSERR = 71,
    EXIT_TEMPFAIL = 75,
    EXIT_PROTOCOL = 76,
    EXIT_CONFIG = 78,
};

static int exit_status_for(stsm_status_t status)
{
    switch (status) {
    case STSM_OK: return 0;
    case STSM_ERR_ARGUMENT: return EXIT_USAGE;
    case STSM_ERR_RESOLVE: return EXIT_NOHOST;
    case STSM_ERR_CONNECT: return EXIT_UNAVAILABLE;
    case STSM_ERR_TIMEOUT:
    case STSM_ERR_DNS_SERVER_FAILURE:
    case STSM_ERR_PEER_CLOSED: return EXIT_TEMPFAIL;
    case STSM_ERR_PEER_PROTOCOL: return EXIT_PROTOCOL;
    case STSM_ERR_DNS_MALFORMED:
    case STSM_ERR_DNS_CNAME_CHAIN:
    case STSM_ERR_CAPACITY: return EXIT_DATAERR;
    case STSM_ERR_NOT_CONFIGURED: return EXIT_CONFIG;
    default: return EXIT_OSERR;
    }
}

static ip4_addr_t to_ip4(const struct stsm_cli_ipv4 *a)
{
    ip4_addr_t out;
    IP4_ADDR(&out, a->octet[0], a->octet[1], a->octet[2], a->octet[3]);
    return out;
}

/* lwIP only names its errors in debug builds; these are the ones a probe can meet. */
static const char *lwip_err_name(int err)
{
    switch (err) {
    case ERR_RST: return "connection refused or reset";
    case ERR_ABRT: return "connection aborted";
    case ERR_CLSD: return "connection closed";
    case ERR_RTE: return "no route to host";
    case ERR_MEM: return "out of memory";
    case ERR_BUF: return "out of buffers";
    case ERR_USE: return "address in use";
    default: return "lwIP error";
    }
}

struct probe_outcome {
    bool done;
    stsm_status_t status;
    int lwip_err;
};

static void on_probe_done(void *arg, stsm_status_t status, const char *line, int lwip_err)
{
    struct probe_outcome *outcome = arg;
    outcome->done = true;
    outcome->status = status;
    outcome->lwip_err = lwip_err;
    if (line != NULL) {
        printf("%s\n", line);
        fflush(stdout);
    }
}

/* Brings lwIP up on the TAP interface as the options say. Returns 0 or an exit status. */
static int net_up(const struct stsm_cli_net *net)
{
    struct stsm_host_net_config config = { .tap_name = net->tap, .use_dhcp = net->use_dhcp };
    char why[160] = "";

    if (!net->use_dhcp) {
        config.address = to_ip4(&net->address);
        ip4_addr_set_u32(&config.netmask,
                         lwip_htonl(net->prefix_len == 32 ? 0xffffffffu
                                                           : ~(0xffffffffu >> net->prefix_len)));
        config.gateway = to_ip4(&net->gateway);
    }
    config.dns_count = net->dns_count;
    for (uint8_t i = 0; i < net->dns_count; i++) {
        config.dns_servers[i] = to_ip4(&net->dns[i]);
    }
    stsm_status_t st = stsm_host_net_up(&config, net->timeout_ms, why, sizeof why);
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: %s\n", why);
        return exit_status_for(st);
    }

    struct netif *netif = stsm_host_net_netif();
    char addr[IP4ADDR_STRLEN_MAX], dns[IPADDR_STRLEN_MAX];
    ip4addr_ntoa_r(netif_ip4_addr(netif), addr, sizeof addr);
    ipaddr_ntoa_r(dns_getserver(0), dns, sizeof dns);
    fprintf(stderr, "stsmail: %s up as %s/%u (%s), DNS server %s\n", net->tap, addr,
            (unsigned)(32 - __builtin_popcount(~ip4_addr_get_u32(netif_ip4_netmask(netif)))),
            net->use_dhcp ? "DHCP" : "static", dns);
    return 0;
}

/* Lets the last segments (QUIT, FIN, RST) leave before the interface goes away. */
static void net_down(void)
{
    for (int i = 0; i < 5; i++) {
        stsm_host_net_poll(20);
    }
    stsm_host_net_down();
}

static int run_probe(const struct stsm_cli *cli)
{
    const struct stsm_cli_probe_args *args = &cli->probe;
    int rc = net_up(&cli->net);
    if (rc != 0) {
        return rc;
    }
    stsm_status_t st;
    static struct stsm_probe probe;
    struct probe_outcome outcome = { 0 };
    st = stsm_probe_start(&probe, args->host, args->port, cli->net.timeout_ms, on_probe_done,
                          &outcome);
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: cannot probe %s: %s\n", args->host, stsm_status_str(st));
        net_down();
        return exit_status_for(st);
    }
    while (!outcome.done) {
        stsm_host_net_poll(100);
    }

    char server[IPADDR_STRLEN_MAX] = "-";
    if (!ip_addr_isany(stsm_probe_address(&probe))) {
        ipaddr_ntoa_r(stsm_probe_address(&probe), server, sizeof server);
    }
    if (outcome.status == STSM_OK) {
        fprintf(stderr, "stsmail: %s (%s) port %u answered through lwIP %s\n", args->host,
                server, (unsigned)args->port, LWIP_VERSION_STRING);
    } else if (outcome.lwip_err != 0) {
        fprintf(stderr, "stsmail: probe of %s (%s) port %u failed: %s (%s, lwIP error %d)\n",
                args->host, server, (unsigned)args->port, stsm_status_str(outcome.status),
                lwip_err_name(outcome.lwip_err), outcome.lwip_err);
    } else {
        fprintf(stderr, "stsmail: probe of %s (%s) port %u failed: %s\n", args->host, server,
                (unsigned)args->port, stsm_status_str(outcome.status));
    }
    net_down();
    return exit_status_for(outcome.status);
}

struct dns_outcome {
    const char *name;
    uint16_t type;
    bool done;
    stsm_status_t status;
    cJSON *report;
    bool incomplete;   /* mx: a host's address lookup failed for now */
};

static struct stsm_resolver_query query;
static struct stsm_route route;

static void on_answer(void *arg, stsm_status_t status, const struct stsm_dns_answer *answer,
                      const ip_addr_t *server)
{
    struct dns_outcome *outcome = arg;
    outcome->done = true;
    outcome->status = status;
    outcome->report = stsm_dns_report_answer(outcome->name, outcome->type, status, answer, server);
    if (outcome->report != NULL && stsm_resolver_last_rcode(&query) != 0) {
        cJSON_AddNumberToObject(outcome->report, "last_error_rcode",
                                stsm_resolver_last_rcode(&query));
    }
}

static void on_route(void *arg, stsm_status_t status, const struct stsm_mx_set *set)
{
    struct dns_outcome *outcome = arg;
    outcome->done = true;
    outcome->status = status;
    outcome->report = stsm_dns_report_route(outcome->name, status, &route, set);
    for (size_t i = 0; set != NULL && i < set->count; i++) {
        const struct stsm_mx_lookup *lookups[2] = { &set->hosts[i].a, &set->hosts[i].aaaa };
        for (int k = 0; k < 2; k++) {
            if (lookups[k]->status == STSM_ERR_TIMEOUT ||
                lookups[k]->status == STSM_ERR_DNS_SERVER_FAILURE) {
                outcome->incomplete = true;
            }
        }
    }
}

static int run_dns(const struct stsm_cli *cli)
{
    struct dns_outcome outcome = { .name = cli->dns.name, .type = cli->dns.type };
    int rc = net_up(&cli->net);
    if (rc != 0) {
        return rc;
    }
    stsm_status_t st;
    if (cli->dns.type == STSM_DNS_TYPE_MX) {
        st = stsm_route_start(&route, cli->dns.name, on_route, &outcome);
    } else {
        st = stsm_resolver_start(&query, cli->dns.name, cli->dns.type, on_answer, &outcome);
    }
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: cannot look up %s: %s\n", cli->dns.name, stsm_status_str(st));
        net_down();
        return exit_status_for(st);
    }
    while (!outcome.done) {
        stsm_host_net_poll(100);
    }
    char *text = outcome.report != NULL ? cJSON_Print(outcome.report) : NULL;
    if (text == NULL) {
        fprintf(stderr, "stsmail: out of memory writing the report\n");
        net_down();
        return EXIT_OSERR;
    }
    printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(outcome.report);
    net_down();
    if (outcome.status == STSM_OK && outcome.incomplete) {
        return EXIT_TEMPFAIL;
    }
    return exit_status_for(outcome.status);
}

int main(int argc, char *argv[])
{
    struct stsm_cli cli;
    char why[200] = "";

    if (stsm_cli_parse(argc, argv, &cli, why, sizeof why) != STSM_OK) {
        fprintf(stderr, "stsmail: %s\n%s", why, stsm_cli_usage);
        return EXIT_USAGE;
    }
    switch (cli.command) {
    case STSM_CLI_HELP:
        fputs(stsm_cli_usage, stdout);
        return 0;
    case STSM_CLI_VERSION:
        printf("stsmail %s (lwIP %s, Mbed TLS %s, cJSON %s)\n", STSM_VERSION,
               LWIP_VERSION_STRING, MBEDTLS_VERSION_STRING, cJSON_Version());
        return 0;
    case STSM_CLI_PROBE:
        return run_probe(&cli);
    case STSM_CLI_DNS:
        return run_dns(&cli);
    }
    return EXIT_USAGE;
}
