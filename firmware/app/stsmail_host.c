/* stsmail host simulation: the command-line front end over lwIP on a TAP device. */
#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "lwip/dns.h"
#include "lwip/init.h"
#include "mbedtls/version.h"
#include "stsm_cli.h"
#include "stsm_host_net.h"
#include "stsm_probe.h"

/* Exit statuses follow sysexits.h so scripts can tell bad usage from a network outage. */
enum {
    EXIT_USAGE = 64,
    EXIT_NOHOST = 68,
    EXIT_UNAVAILABLE = 69,
    EXIT_OSERR = 71,
    EXIT_TEMPFAIL = 75,
    EXIT_PROTOCOL = 76,
};

static int exit_status_for(stsm_status_t status)
{
    switch (status) {
    case STSM_OK: return 0;
    case STSM_ERR_ARGUMENT: return EXIT_USAGE;
    case STSM_ERR_RESOLVE: return EXIT_NOHOST;
    case STSM_ERR_CONNECT: return EXIT_UNAVAILABLE;
    case STSM_ERR_TIMEOUT:
    case STSM_ERR_PEER_CLOSED: return EXIT_TEMPFAIL;
    case STSM_ERR_PEER_PROTOCOL: return EXIT_PROTOCOL;
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

static int run_probe(const struct stsm_cli_probe_args *args)
{
    struct stsm_host_net_config config = { .tap_name = args->tap, .use_dhcp = args->use_dhcp };
    char why[160] = "";

    if (!args->use_dhcp) {
        config.address = to_ip4(&args->address);
        ip4_addr_set_u32(&config.netmask,
                         lwip_htonl(args->prefix_len == 32 ? 0xffffffffu
                                                            : ~(0xffffffffu >> args->prefix_len)));
        config.gateway = to_ip4(&args->gateway);
        config.dns_server = to_ip4(&args->dns);
    }
    stsm_status_t st = stsm_host_net_up(&config, args->timeout_ms, why, sizeof why);
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: %s\n", why);
        return exit_status_for(st);
    }

    struct netif *netif = stsm_host_net_netif();
    char addr[IP4ADDR_STRLEN_MAX], dns[IPADDR_STRLEN_MAX];
    ip4addr_ntoa_r(netif_ip4_addr(netif), addr, sizeof addr);
    ipaddr_ntoa_r(dns_getserver(0), dns, sizeof dns);
    fprintf(stderr, "stsmail: %s up as %s/%u (%s), DNS server %s\n", args->tap, addr,
            (unsigned)(32 - __builtin_popcount(~ip4_addr_get_u32(netif_ip4_netmask(netif)))),
            args->use_dhcp ? "DHCP" : "static", dns);

    static struct stsm_probe probe;
    struct probe_outcome outcome = { 0 };
    st = stsm_probe_start(&probe, args->host, args->port, args->timeout_ms, on_probe_done,
                          &outcome);
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: cannot probe %s: %s\n", args->host, stsm_status_str(st));
        stsm_host_net_down();
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
    /* Let the QUIT and FIN leave before the interface goes away. */
    for (int i = 0; i < 5; i++) {
        stsm_host_net_poll(20);
    }
    stsm_host_net_down();
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
        return run_probe(&cli.probe);
    }
    return EXIT_USAGE;
}
