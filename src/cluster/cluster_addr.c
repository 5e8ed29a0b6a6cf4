/* SPDX-License-Identifier: Apache-2.0 */
/* Listen and advertise addresses, with Docker's rules and texts. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"

#define CLUSTER__DEFAULT_PORT "2377"

static const char cluster_err_bad_listen[] =
    "listen address must be an IP address or network interface (with "
    "optional port number)";
static const char cluster_err_bad_advertise[] =
    "advertise address must be a non-zero IP address or network interface "
    "(with optional port number)";

/* Split "host:port" / "[v6]:port" / "host"; port_out gets "" if absent. */
static int cluster_split_host_port(const char *s, char *host, size_t hlen,
                                   char *port, size_t plen)
{
    const char *colon;
    size_t n;

    port[0] = '\0';
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL)
            return -1;
        n = (size_t)(close - s - 1);
        if (n >= hlen)
            return -1;
        memcpy(host, s + 1, n);
        host[n] = '\0';
        if (close[1] == '\0')
            return 0;
        if (close[1] != ':')
            return -1;
        snprintf(port, plen, "%s", close + 2);
        return 0;
    }
    colon = strchr(s, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        /* bare IPv6 without brackets: no port */
        snprintf(host, hlen, "%s", s);
        return strlen(s) < hlen ? 0 : -1;
    }
    n = colon ? (size_t)(colon - s) : strlen(s);
    if (n >= hlen)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    if (colon != NULL)
        snprintf(port, plen, "%s", colon + 1);
    return 0;
}

static bool cluster_port_ok(const char *p)
{
    char *end;
    long v;

    if (p[0] == '\0')
        return false;
    v = strtol(p, &end, 10);
    return *end == '\0' && v > 0 && v <= 65535;
}

/* The first IPv4 address of interface name, if it exists. 0, -1 no such
 * interface, -2 no address on it. */
static int cluster_iface_ip(const char *name, char *out, size_t len)
{
    struct ifaddrs *ifs;
    struct ifaddrs *i;
    bool seen = false;
    int rv = -1;

    if (getifaddrs(&ifs) == -1)
        return -1;
    for (i = ifs; i != NULL; i = i->ifa_next) {
        if (strcmp(i->ifa_name, name) != 0)
            continue;
        seen = true;
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
                  out, (socklen_t)len);
        rv = 0;
        break;
    }
    freeifaddrs(ifs);
    return rv == 0 ? 0 : (seen ? -2 : -1);
}

/* Resolve host (IP or interface name) to an IP string. */
static int cluster_resolve_host(const char *host, char *out, size_t len,
                                const char *bad, struct err *err)
{
    struct in6_addr a6;
    struct in_addr a4;
    int rv;

    if (inet_pton(AF_INET, host, &a4) == 1 ||
        inet_pton(AF_INET6, host, &a6) == 1) {
        snprintf(out, len, "%s", host);
        return 0;
    }
    rv = cluster_iface_ip(host, out, len);
    if (rv == 0)
        return 0;
    if (rv == -2)
        return err_set(err, ERR_INVALID,
                       "interface %s has no usable IPv4 or IPv6 address",
                       host);
    return err_set(err, ERR_INVALID, "%s", bad);
}

static bool cluster_ip_unspecified(const char *ip)
{
    return strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0;
}

/* The one global unicast IPv4 address of this system, Docker-style. */
static int cluster_system_ip(char *out, size_t len, struct err *err)
{
    struct ifaddrs *ifs;
    struct ifaddrs *i;
    char first[INET_ADDRSTRLEN] = "";
    char first_if[IF_NAMESIZE + 1] = "";
    int n = 0;

    if (getifaddrs(&ifs) == -1)
        return err_set(err, ERR_INVALID,
                       "could not find the system's IP address - specify "
                       "one with --advertise-addr");
    for (i = ifs; i != NULL; i = i->ifa_next) {
        char ip[INET_ADDRSTRLEN];
        uint32_t a;

        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
            (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
            continue;
        a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        if ((a >> 16) == 0xa9fe) /* link-local */
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip,
                  sizeof(ip));
        if (n == 0) {
            snprintf(first, sizeof(first), "%s", ip);
            snprintf(first_if, sizeof(first_if), "%s", i->ifa_name);
        } else if (strcmp(first_if, i->ifa_name) == 0) {
            err_set(err, ERR_INVALID,
                    "could not choose an IP address to advertise since this "
                    "system has multiple addresses on interface %s (%s and "
                    "%s) - specify one with --advertise-addr",
                    first_if, first, ip);
            freeifaddrs(ifs);
            return -ERR_INVALID;
        } else {
            err_set(err, ERR_INVALID,
                    "could not choose an IP address to advertise since this "
                    "system has multiple addresses on different interfaces "
                    "(%s on %s and %s on %s) - specify one with "
                    "--advertise-addr",
                    first, first_if, ip, i->ifa_name);
            freeifaddrs(ifs);
            return -ERR_INVALID;
        }
        n++;
    }
    freeifaddrs(ifs);
    if (n == 0)
        return err_set(err, ERR_INVALID,
                       "could not find the system's IP address - specify "
                       "one with --advertise-addr");
    snprintf(out, len, "%s", first);
    return 0;
}

static void cluster_join_host_port(char *out, size_t len, const char *ip,
                                   const char *port)
{
    if (strchr(ip, ':') != NULL)
        snprintf(out, len, "[%s]:%s", ip, port);
    else
        snprintf(out, len, "%s:%s", ip, port);
}

int cluster_addr_resolve(const char *listen, const char *advertise,
                         char *out_listen, size_t listen_len,
                         char *out_advertise, size_t adv_len,
                         char *out_adv_ip, size_t ip_len, struct err *err)
{
    char host[128];
    char port[16];
    char lip[64];
    char lport[16];
    char aip[64];
    int rv;

    if (listen == NULL || listen[0] == '\0')
        listen = "0.0.0.0:" CLUSTER__DEFAULT_PORT;
    if (cluster_split_host_port(listen, host, sizeof(host), port,
                                sizeof(port)) != 0)
        return err_set(err, ERR_INVALID, "could not parse listen address %s",
                       listen);
    if (port[0] == '\0')
        snprintf(port, sizeof(port), "%s", CLUSTER__DEFAULT_PORT);
    if (!cluster_port_ok(port))
        return err_set(err, ERR_INVALID, "%s", cluster_err_bad_listen);
    if (host[0] == '\0')
        snprintf(host, sizeof(host), "0.0.0.0");
    rv = cluster_resolve_host(host, lip, sizeof(lip), cluster_err_bad_listen,
                              err);
    if (rv != 0)
        return rv;
    snprintf(lport, sizeof(lport), "%s", port);
    cluster_join_host_port(out_listen, listen_len, lip, lport);

    if (advertise == NULL || advertise[0] == '\0') {
        if (!cluster_ip_unspecified(lip)) {
            snprintf(aip, sizeof(aip), "%s", lip);
        } else {
            rv = cluster_system_ip(aip, sizeof(aip), err);
            if (rv != 0)
                return rv;
        }
        snprintf(port, sizeof(port), "%s", lport);
    } else {
        if (cluster_split_host_port(advertise, host, sizeof(host), port,
                                    sizeof(port)) != 0 ||
            host[0] == '\0')
            return err_set(err, ERR_INVALID, "%s", cluster_err_bad_advertise);
        if (port[0] == '\0')
            snprintf(port, sizeof(port), "%s", lport);
        if (!cluster_port_ok(port))
            return err_set(err, ERR_INVALID, "%s", cluster_err_bad_advertise);
        rv = cluster_resolve_host(host, aip, sizeof(aip),
                                  cluster_err_bad_advertise, err);
        if (rv != 0)
            return rv;
        if (cluster_ip_unspecified(aip))
            return err_set(err, ERR_INVALID, "%s", cluster_err_bad_advertise);
    }
    cluster_join_host_port(out_advertise, adv_len, aip, port);
    snprintf(out_adv_ip, ip_len, "%s", aip);
    return 0;
}
