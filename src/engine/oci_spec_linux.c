/* SPDX-License-Identifier: Apache-2.0 */
/* The spec's "linux" object: namespaces, cgroup path and resources,
 * devices, masked and read-only paths, sysctls; the rlimits; Docker's
 * validation of HostConfig. */
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/oci_spec_int.h"

#define OCI_SPEC_LINUX__MIN_MEMORY (6LL << 20)
#define OCI_SPEC_LINUX__NOFILE 1048576
#define OCI_SPEC_LINUX__CPUS_MAX 1024
#define OCI_SPEC_LINUX__MEMSW \
    "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"

static const char *const oci_spec_linux_masked[] = {
    "/proc/asound",        "/proc/acpi",        "/proc/interrupts",
    "/proc/kcore",         "/proc/keys",        "/proc/latency_stats",
    "/proc/timer_list",    "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",          "/sys/firmware",
    "/sys/devices/virtual/powercap", NULL,
};

static const char *const oci_spec_linux_readonly[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    NULL,
};

/* RLIMIT names as Docker spells them in Ulimits. */
static const char *const oci_spec_linux_ulimits[] = {
    "as",     "core",   "cpu",        "data",  "fsize",  "locks",
    "memlock", "msgqueue", "nice",    "nofile", "nproc", "rss",
    "rtprio", "rttime", "sigpending", "stack", NULL,
};

int oci_spec_linux_ns_mode(const char *what, const char *mode,
                           bool *out_host, struct err *err)
{
    *out_host = mode != NULL && strcmp(mode, "host") == 0;
    if (mode != NULL && strncmp(mode, "container:", 10) == 0)
        return err_set(err, ERR_NOTIMPLEMENTED,
                       "%s mode %s: sharing another container's namespace "
                       "is not supported yet",
                       what, mode);
    return 0;
}

/* A cpuset list "0-2,4" within [0, n): 0, or -1 when malformed, -2 when
 * a CPU is out of range. */
static int oci_spec_linux_cpuset(const char *s, long n)
{
    const char *p = s;
    int rv = 0;

    if (*p == '\0')
        return 0;
    for (;;) {
        char *end;
        long a;
        long b;

        if (*p < '0' || *p > '9')
            return -1;
        a = strtol(p, &end, 10);
        b = a;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9')
                return -1;
            b = strtol(p, &end, 10);
            p = end;
            if (b < a)
                return -1;
        }
        if (b >= n)
            rv = -2;
        if (*p == '\0')
            return rv;
        if (*p != ',')
            return -1;
        p++;
    }
}

static long oci_spec_linux_ncpu(void)
{
    cpu_set_t set;
    long n;

    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

static int oci_spec_linux_check_memory(const json_t *hc, struct err *err)
{
    int64_t mem;
    int64_t swap;
    int64_t res;

    if (oci_spec_get_int(hc, "Memory", &mem, err) < 0 ||
        oci_spec_get_int(hc, "MemorySwap", &swap, err) < 0 ||
        oci_spec_get_int(hc, "MemoryReservation", &res, err) < 0)
        return -ERR_INVALID;
    if (mem < 0 || res < 0 || swap < -1)
        return err_set(err, ERR_INVALID,
                       "invalid memory limit: values must not be negative");
    if (mem > 0 && mem < OCI_SPEC_LINUX__MIN_MEMORY)
        return err_set(err, ERR_INVALID,
                       "Minimum memory limit allowed is 6MB");
    if (swap > 0 && mem == 0)
        return err_set(err, ERR_INVALID,
                       "You should always set the Memory limit when using "
                       "Memoryswap limit, see usage");
    if (mem > 0 && swap > 0 && swap < mem)
        return err_set(err, ERR_INVALID,
                       "Minimum memoryswap limit should be larger than "
                       "memory limit, see usage");
    if (res > 0 && res < OCI_SPEC_LINUX__MIN_MEMORY)
        return err_set(err, ERR_INVALID,
                       "Minimum memory reservation allowed is 6MB");
    if (mem > 0 && res > mem)
        return err_set(err, ERR_INVALID,
                       "Minimum memory limit can not be less than memory "
                       "reservation limit, see usage");
    return 0;
}

static int oci_spec_linux_check_cpu(const json_t *hc, struct err *err)
{
    int64_t nano;
    int64_t quota;
    int64_t period;
    int64_t shares;
    const char *cpus;
    const char *mems;
    long n = oci_spec_linux_ncpu();
    int rv;

    if (oci_spec_get_int(hc, "NanoCpus", &nano, err) < 0 ||
        oci_spec_get_int(hc, "CpuQuota", &quota, err) < 0 ||
        oci_spec_get_int(hc, "CpuPeriod", &period, err) < 0 ||
        oci_spec_get_int(hc, "CpuShares", &shares, err) < 0 ||
        oci_spec_get_str(hc, "CpusetCpus", &cpus, err) < 0 ||
        oci_spec_get_str(hc, "CpusetMems", &mems, err) < 0)
        return -ERR_INVALID;
    if (nano > 0 && period > 0)
        return err_set(err, ERR_INVALID,
                       "Conflicting options: Nano CPUs and CPU Period "
                       "cannot both be set");
    if (nano > 0 && quota > 0)
        return err_set(err, ERR_INVALID,
                       "Conflicting options: Nano CPUs and CPU Quota cannot "
                       "both be set");
    if (nano < 0 || nano > (int64_t)n * 1000000000LL)
        return err_set(err, ERR_INVALID,
                       "Range of CPUs is from 0.01 to %ld.00, as there are "
                       "only %ld CPUs available",
                       n, n);
    if (period != 0 && (period < 1000 || period > 1000000))
        return err_set(err, ERR_INVALID,
                       "CPU cfs period can not be less than 1ms (i.e. 1000) "
                       "or larger than 1s (i.e. 1000000)");
    if (quota > 0 && quota < 1000)
        return err_set(err, ERR_INVALID,
                       "CPU cfs quota can not be less than 1ms (i.e. 1000)");
    if (shares < 0)
        return err_set(err, ERR_INVALID,
                       "invalid CPU shares %lld: must not be negative",
                       (long long)shares);
    if (cpus != NULL) {
        rv = oci_spec_linux_cpuset(cpus, OCI_SPEC_LINUX__CPUS_MAX);
        if (rv == -1 || strlen(cpus) > 256)
            return err_set(err, ERR_INVALID,
                           "Invalid value %s for cpuset cpus", cpus);
        if (oci_spec_linux_cpuset(cpus, n) == -2)
            return err_set(err, ERR_INVALID,
                           "Requested CPUs are not available - requested "
                           "%s, available: 0-%ld",
                           cpus, n - 1);
    }
    if (mems != NULL && (oci_spec_linux_cpuset(mems, 64) < 0 ||
                         strlen(mems) > 256))
        return err_set(err, ERR_INVALID, "Invalid value %s for cpuset mems",
                       mems);
    return 0;
}

static int oci_spec_linux_check_sysctls(const json_t *hc, bool host_net,
                                        struct err *err)
{
    static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb",
                                      "kernel.msgmni", "kernel.sem",
                                      "kernel.shmall", "kernel.shmmax",
                                      "kernel.shmmni",
                                      "kernel.shm_rmid_forced", NULL};
    const json_t *sysctls = json_object_get(hc, "Sysctls");
    const json_t *v;
    const char *key;
    size_t i;

    if (sysctls != NULL && !json_is_null(sysctls) && !json_is_object(sysctls))
        return err_set(err, ERR_INVALID, "invalid Sysctls: expected an "
                                         "object");
    json_object_foreach((json_t *)sysctls, key, v) {
        bool ok = false;

        if (!json_is_string(v))
            return err_set(err, ERR_INVALID,
                           "invalid Sysctls: expected string values");
        for (i = 0; ipc[i] != NULL; i++)
            ok = ok || strcmp(key, ipc[i]) == 0;
        ok = ok || strncmp(key, "fs.mqueue.", 10) == 0;
        if (strncmp(key, "net.", 4) == 0) {
            if (host_net)
                return err_set(err, ERR_INVALID,
                               "sysctl \"%s\" not allowed in host network "
                               "namespace",
                               key);
            ok = true;
        }
        if (!ok || strchr(key, '/') != NULL || strstr(key, "..") != NULL)
            return err_set(err, ERR_INVALID, "sysctl '%s' is not allowed",
                           key);
    }
    return 0;
}

int oci_spec_linux_validate(const json_t *hc, struct err *err)
{
    static const char *const modes[] = {"IpcMode", "PidMode", "UTSMode",
                                        "NetworkMode", NULL};
    const char *mode;
    int64_t v;
    bool host_net = false;
    bool host;
    size_t i;

    for (i = 0; modes[i] != NULL; i++) {
        if (oci_spec_get_str(hc, modes[i], &mode, err) < 0 ||
            oci_spec_linux_ns_mode(modes[i], mode, &host, err) < 0)
            return -err->code;
        if (i == 3)
            host_net = host;
    }
    if (oci_spec_linux_check_memory(hc, err) < 0 ||
        oci_spec_linux_check_cpu(hc, err) < 0 ||
        oci_spec_linux_check_sysctls(hc, host_net, err) < 0)
        return -ERR_INVALID;
    if (oci_spec_get_int(hc, "ShmSize", &v, err) < 0)
        return -ERR_INVALID;
    if (v < 0)
        return err_set(err, ERR_INVALID, "SHM size can not be less than 0");
    if (oci_spec_get_int(hc, "OomScoreAdj", &v, err) < 0)
        return -ERR_INVALID;
    if (v < -1000 || v > 1000)
        return err_set(err, ERR_INVALID,
                       "Invalid value %lld, range for oom score adj is "
                       "[-1000, 1000]",
                       (long long)v);
    if (oci_spec_get_int(hc, "PidsLimit", &v, err) < 0)
        return -ERR_INVALID;
    return 0;
}

/* Docker's containers get dockerd's 1048576 open files; without
 * CAP_SYS_RESOURCE runc cannot raise the limit past the daemon's own. */
static long long oci_spec_linux_nofile(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long eff = 0;
    struct rlimit rl;

    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL) {
            if (sscanf(line, "CapEff: %llx", &eff) == 1)
                break;
        }
        fclose(f);
    }
    if ((eff & (1ULL << 24)) != 0) /* CAP_SYS_RESOURCE */
        return OCI_SPEC_LINUX__NOFILE;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
        rl.rlim_max < OCI_SPEC_LINUX__NOFILE)
        return (long long)rl.rlim_max;
    return OCI_SPEC_LINUX__NOFILE;
}

json_t *oci_spec_linux_rlimits(const json_t *hc, struct err *err)
{
    long long nofile = oci_spec_linux_nofile();
    const json_t *ulimits = json_object_get(hc, "Ulimits");
    const json_t *u;
    json_t *out = json_array();
    json_t *r;
    size_t i;
    size_t k;

    if (ulimits != NULL && !json_is_null(ulimits) && !json_is_array(ulimits)) {
        err_set(err, ERR_INVALID, "invalid Ulimits: expected an array");
        goto err_after_out;
    }
    r = json_object();
    json_object_set_new(r, "type", json_string("RLIMIT_NOFILE"));
    json_object_set_new(r, "hard", json_integer(nofile));
    json_object_set_new(r, "soft", json_integer(nofile));
    json_array_append_new(out, r);
    json_array_foreach(ulimits, i, u) {
        const char *name;
        int64_t soft;
        int64_t hard;
        char type[32];
        const json_t *o;
        size_t j;

        if (oci_spec_get_str(u, "Name", &name, err) < 0 ||
            oci_spec_get_int(u, "Soft", &soft, err) < 0 ||
            oci_spec_get_int(u, "Hard", &hard, err) < 0)
            goto err_after_out;
        for (k = 0; name != NULL && oci_spec_linux_ulimits[k] != NULL; k++) {
            if (strcmp(name, oci_spec_linux_ulimits[k]) == 0)
                break;
        }
        if (name == NULL || oci_spec_linux_ulimits[k] == NULL) {
            err_set(err, ERR_INVALID, "invalid ulimit type: %s",
                    name != NULL ? name : "");
            goto err_after_out;
        }
        if (soft > hard) {
            err_set(err, ERR_INVALID,
                    "ulimit soft limit must be less than or equal to hard "
                    "limit: %lld > %lld",
                    (long long)soft, (long long)hard);
            goto err_after_out;
        }
        snprintf(type, sizeof(type), "RLIMIT_%s", name);
        for (j = 7; type[j] != '\0'; j++)
            type[j] = (char)(type[j] - 'a' + 'A');
        /* A later entry of a type replaces an earlier one. */
        json_array_foreach(out, j, o) {
            if (strcmp(json_string_value(json_object_get(o, "type")), type) ==
                0) {
                json_array_remove(out, j);
                break;
            }
        }
        r = json_object();
        json_object_set_new(r, "type", json_string(type));
        json_object_set_new(r, "hard", json_integer(hard));
        json_object_set_new(r, "soft", json_integer(soft));
        json_array_append_new(out, r);
    }
    return out;

err_after_out:
    json_decref(out);
    return NULL;
}

static json_t *oci_spec_linux_device(bool allow, const char *type, int major,
                                     int minor)
{
    json_t *d = json_object();

    json_object_set_new(d, "allow", json_boolean(allow));
    if (type != NULL)
        json_object_set_new(d, "type", json_string(type));
    if (major >= 0)
        json_object_set_new(d, "major", json_integer(major));
    if (minor >= 0)
        json_object_set_new(d, "minor", json_integer(minor));
    json_object_set_new(d, "access", json_string(allow ? "rwm" : "rwm"));
    return d;
}

/* Deny all, then Docker's allow list (and runc's own: mknod of any node,
 * the pty devices); privileged: allow all. */
static json_t *oci_spec_linux_devices(bool privileged)
{
    static const int allowed[][2] = {
        {1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, /* null zero full random.. */
        {5, 0}, {5, 1}, {5, 2}, {136, -1},      /* tty console ptmx pts */
    };
    json_t *list = json_array();
    json_t *d;
    size_t i;

    if (privileged) {
        json_array_append_new(list,
                              oci_spec_linux_device(true, NULL, -1, -1));
        return list;
    }
    json_array_append_new(list, oci_spec_linux_device(false, NULL, -1, -1));
    d = oci_spec_linux_device(true, "c", -1, -1);
    json_object_set_new(d, "access", json_string("m"));
    json_array_append_new(list, d);
    d = oci_spec_linux_device(true, "b", -1, -1);
    json_object_set_new(d, "access", json_string("m"));
    json_array_append_new(list, d);
    for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        json_array_append_new(list,
                              oci_spec_linux_device(true, "c", allowed[i][0],
                                                    allowed[i][1]));
    /* fuse (10:229) is not in the list; cgroup v1 cannot deny it again
     * after the mknod wildcard, as Docker's spec does. */
    return list;
}

static json_t *oci_spec_linux_resources(const json_t *hc)
{
    json_t *res = json_object();
    json_t *mem = json_object();
    json_t *cpu = json_object();
    int64_t v;
    int64_t memory;
    int64_t swap;
    int64_t nano;
    const char *s;

    json_object_set_new(res, "devices",
                        oci_spec_linux_devices(
                            oci_spec_get_bool(hc, "Privileged")));
    (void)oci_spec_get_int(hc, "Memory", &memory, NULL);
    (void)oci_spec_get_int(hc, "MemorySwap", &swap, NULL);
    if (memory > 0) {
        json_object_set_new(mem, "limit", json_integer(memory));
        /* Swap needs the kernel's swap accounting (Docker warns and
         * limits memory alone without it). */
        if (fsutil_exists(OCI_SPEC_LINUX__MEMSW) && swap != -1)
            json_object_set_new(
                mem, "swap", json_integer(swap > 0 ? swap : memory * 2));
        else if (fsutil_exists(OCI_SPEC_LINUX__MEMSW))
            json_object_set_new(mem, "swap", json_integer(-1));
    }
    (void)oci_spec_get_int(hc, "MemoryReservation", &v, NULL);
    if (v > 0)
        json_object_set_new(mem, "reservation", json_integer(v));
    if (oci_spec_get_bool(hc, "OomKillDisable"))
        json_object_set_new(mem, "disableOOMKiller", json_true());
    if (json_object_size(mem) > 0)
        json_object_set(res, "memory", mem);
    (void)oci_spec_get_int(hc, "CpuShares", &v, NULL);
    if (v > 0)
        json_object_set_new(cpu, "shares",
                            json_integer(v < 2 ? 2 : v > 262144 ? 262144 : v));
    (void)oci_spec_get_int(hc, "NanoCpus", &nano, NULL);
    if (nano > 0) {
        json_object_set_new(cpu, "period", json_integer(100000));
        json_object_set_new(cpu, "quota", json_integer(nano / 10000));
    } else {
        (void)oci_spec_get_int(hc, "CpuQuota", &v, NULL);
        if (v != 0)
            json_object_set_new(cpu, "quota", json_integer(v));
        (void)oci_spec_get_int(hc, "CpuPeriod", &v, NULL);
        if (v != 0)
            json_object_set_new(cpu, "period", json_integer(v));
    }
    (void)oci_spec_get_str(hc, "CpusetCpus", &s, NULL);
    if (s != NULL && s[0] != '\0')
        json_object_set_new(cpu, "cpus", json_string(s));
    (void)oci_spec_get_str(hc, "CpusetMems", &s, NULL);
    if (s != NULL && s[0] != '\0')
        json_object_set_new(cpu, "mems", json_string(s));
    if (json_object_size(cpu) > 0)
        json_object_set(res, "cpu", cpu);
    (void)oci_spec_get_int(hc, "PidsLimit", &v, NULL);
    if (v > 0) {
        json_t *pids = json_object();

        json_object_set_new(pids, "limit", json_integer(v));
        json_object_set_new(res, "pids", pids);
    }
    json_decref(mem);
    json_decref(cpu);
    return res;
}

static void oci_spec_linux_ns(json_t *list, const char *type)
{
    json_t *ns = json_object();

    json_object_set_new(ns, "type", json_string(type));
    json_array_append_new(list, ns);
}

json_t *oci_spec_linux_build(const json_t *hc, const char *id,
                             struct err *err)
{
    static const char *const kinds[][2] = {
        {"PidMode", "pid"},   {"IpcMode", "ipc"},
        {"UTSMode", "uts"},   {NULL, "mount"},
        {"NetworkMode", "network"},
    };
    bool privileged = oci_spec_get_bool(hc, "Privileged");
    json_t *linux_ = json_object();
    json_t *ns = json_array();
    json_t *sysctl = json_object();
    const json_t *sysctls = json_object_get(hc, "Sysctls");
    const json_t *v;
    const char *key;
    const char *mode;
    char *path;
    size_t i;
    bool host;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        host = false;
        if (kinds[i][0] != NULL &&
            (oci_spec_get_str(hc, kinds[i][0], &mode, err) < 0 ||
             oci_spec_linux_ns_mode(kinds[i][0], mode, &host, err) < 0))
            goto err_after_linux;
        if (!host)
            oci_spec_linux_ns(ns, kinds[i][1]);
    }
    json_object_set_new(linux_, "namespaces", ns);
    ns = NULL;
    path = xasprintf("/shoal/%s", id);
    json_object_set_new(linux_, "cgroupsPath", json_string(path));
    free(path);
    json_object_set_new(linux_, "resources", oci_spec_linux_resources(hc));
    json_object_foreach((json_t *)sysctls, key, v) {
        json_object_set(sysctl, key, (json_t *)v);
    }
    if (json_object_size(sysctl) > 0)
        json_object_set(linux_, "sysctl", sysctl);
    json_decref(sysctl);
    if (!privileged) {
        json_object_set_new(linux_, "maskedPaths",
                            oci_spec_strv(oci_spec_linux_masked));
        json_object_set_new(linux_, "readonlyPaths",
                            oci_spec_strv(oci_spec_linux_readonly));
    }
    return linux_;

err_after_linux:
    json_decref(ns);
    json_decref(sysctl);
    json_decref(linux_);
    return NULL;
}
