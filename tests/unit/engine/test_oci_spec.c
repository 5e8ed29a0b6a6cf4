/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI spec of a container, field by field, for a range of container
 * and image configs; Docker's validation texts; users looked up in a fake
 * root; execs. The last test runs a spec with real runc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/oci_spec.h"
#include "engine/rootfs.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- fixture ---- */

struct fixture
{
    char dir[64];
    char rootfs[128];
    char cdir[128];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char path[256];

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_oci_spec.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->rootfs, sizeof(f->rootfs), "%s/rootfs", f->dir);
    snprintf(f->cdir, sizeof(f->cdir), "%s/ctr", f->dir);
    snprintf(path, sizeof(path), "%s/etc", f->rootfs);
    assert_int_equal(fsutil_mkdir_p(path, 0755, NULL), 0);
    assert_int_equal(fsutil_mkdir_p(f->cdir, 0755, NULL), 0);
    snprintf(path, sizeof(path), "%s/etc/passwd", f->rootfs);
    write_file(path, "root:x:0:0:root:/root:/bin/sh\n"
                     "# comment\n"
                     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
                     "app:x:1000:1000:app:/home/app:/bin/sh\n");
    snprintf(path, sizeof(path), "%s/etc/group", f->rootfs);
    write_file(path, "root:x:0:\n"
                     "app:x:1000:\n"
                     "staff:x:50:app,other\n"
                     "audio:x:29:other,app\n"
                     "nogroup:x:65534:\n");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[256];

    /* Whatever a failed test left: the overlay and runc's container. */
    assert_int_equal(rootfs_unmount(f->cdir, NULL), 0);
    snprintf(cmd, sizeof(cmd),
             "runc --root %s/runc delete -f test-oci-spec-%d 2>/dev/null",
             f->dir, (int)getpid());
    if (access("/usr/sbin/runc", X_OK) == 0 && geteuid() == 0)
        (void)system(cmd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", je.text, text);
    return v;
}

/* A container {"Id", "Config", "HostConfig"} from the two JSON texts. */
static json_t *ctr_new(const char *config, const char *hc)
{
    json_t *c = json_object();

    json_object_set_new(c, "Id", json_string(ID));
    json_object_set_new(c, "Name", json_string("/t"));
    json_object_set_new(c, "Config", parse(config));
    json_object_set_new(c, "HostConfig", parse(hc));
    return c;
}

static json_t *build(struct fixture *f, const char *config, const char *hc,
                     const char *image, struct err *err)
{
    json_t *ctr = ctr_new(config, hc);
    json_t *img = image != NULL ? parse(image) : NULL;
    json_t *spec;

    err_clear(err);
    spec = oci_spec_build(ctr, img, f->rootfs, f->cdir, err);
    json_decref(img);
    json_decref(ctr);
    return spec;
}

static json_t *build_ok(struct fixture *f, const char *config, const char *hc,
                        const char *image)
{
    struct err err;
    json_t *spec = build(f, config, hc, image, &err);

    if (spec == NULL)
        fail_msg("oci_spec_build: %s", err.msg);
    return spec;
}

static void expect_err(struct fixture *f, const char *config, const char *hc,
                       int code, const char *msg)
{
    struct err err;
    json_t *spec = build(f, config, hc, "{\"config\":{\"Cmd\":[\"sh\"]}}",
                         &err);

    if (spec != NULL) {
        json_decref(spec);
        fail_msg("accepted %s %s, expected: %s", config, hc, msg);
    }
    assert_string_equal(err.msg, msg);
    assert_int_equal(err.code, code);
}

/* The value at a dotted path ("process.user.uid", "mounts.3"). */
static json_t *at(json_t *v, const char *path)
{
    char *dup = xstrdup(path);
    char *save = NULL;
    char *k;

    for (k = strtok_r(dup, ".", &save); k != NULL && v != NULL;
         k = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v))
            v = json_array_get(v, (size_t)atoi(k));
        else
            v = json_object_get(v, k);
    }
    free(dup);
    return v;
}

static const char *str_at(json_t *v, const char *path)
{
    json_t *s = at(v, path);

    if (!json_is_string(s))
        fail_msg("%s is not a string", path);
    return json_string_value(s);
}

static long long int_at(json_t *v, const char *path)
{
    json_t *i = at(v, path);

    if (!json_is_integer(i))
        fail_msg("%s is not an integer", path);
    return json_integer_value(i);
}

/* The array at path compared with a JSON text. */
static void assert_json(json_t *v, const char *path, const char *expected)
{
    json_t *e = parse(expected);
    json_t *got = at(v, path);

    if (!json_equal(got, e)) {
        char *s = got != NULL ? json_dumps(got, JSON_COMPACT) : NULL;

        fail_msg("%s = %s, expected %s", path, s != NULL ? s : "(none)",
                 expected);
    }
    json_decref(e);
}

static json_t *mount_at(json_t *spec, const char *dst)
{
    json_t *m;
    size_t i;

    json_array_foreach(json_object_get(spec, "mounts"), i, m) {
        if (strcmp(json_string_value(json_object_get(m, "destination")),
                   dst) == 0)
            return m;
    }
    return NULL;
}

static bool has_str(json_t *list, const char *s)
{
    json_t *v;
    size_t i;

    json_array_foreach(list, i, v) {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static char *read_text(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    char *text = NULL;
    size_t len;

    assert_int_equal(fsutil_read_all(path, 1 << 20, &text, &len, NULL), 0);
    free(path);
    return text;
}

/* ---- tests ---- */

static void test_defaults(void **state)
{
    struct fixture *f = *state;
    json_t *spec = build_ok(f, "{}", "{}",
                            "{\"config\":{\"Cmd\":[\"sh\"],"
                            "\"Env\":[\"PATH=/bin\",\"A=1\"]}}");
    const char *order[] = {"/proc", "/dev", "/dev/pts", "/sys",
                           "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm",
                           "/etc/resolv.conf", "/etc/hostname", "/etc/hosts"};
    struct rlimit rl;
    long long nofile;
    char *text;
    size_t i;

    assert_string_equal(str_at(spec, "ociVersion"), "1.0.2");
    assert_json(spec, "process.args", "[\"sh\"]");
    assert_json(spec, "process.env",
                "[\"PATH=/bin\",\"HOSTNAME=0123456789ab\",\"A=1\"]");
    assert_string_equal(str_at(spec, "process.cwd"), "/");
    assert_json(spec, "process.user", "{\"uid\":0,\"gid\":0}");
    assert_json(spec, "process.terminal", "false");
    assert_json(spec, "process.noNewPrivileges", "false");
    assert_int_equal(int_at(spec, "process.oomScoreAdj"), 0);
    assert_json(spec, "process.capabilities.bounding",
                "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\","
                "\"CAP_FOWNER\",\"CAP_MKNOD\",\"CAP_NET_RAW\",\"CAP_SETGID\","
                "\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\","
                "\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\","
                "\"CAP_AUDIT_WRITE\"]");
    assert_true(json_equal(at(spec, "process.capabilities.bounding"),
                           at(spec, "process.capabilities.effective")));
    assert_true(json_equal(at(spec, "process.capabilities.bounding"),
                           at(spec, "process.capabilities.permitted")));
    assert_null(at(spec, "process.capabilities.inheritable"));
    /* 1048576, or what this process may raise it to. */
    assert_string_equal(str_at(spec, "process.rlimits.0.type"),
                        "RLIMIT_NOFILE");
    nofile = int_at(spec, "process.rlimits.0.hard");
    assert_true(nofile == 1048576 ||
                (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
                 nofile == (long long)rl.rlim_max));
    assert_int_equal(int_at(spec, "process.rlimits.0.soft"), nofile);
    assert_string_equal(str_at(spec, "root.path"), f->rootfs);
    assert_json(spec, "root.readonly", "false");
    assert_string_equal(str_at(spec, "hostname"), "0123456789ab");
    assert_int_equal(json_array_size(at(spec, "mounts")), 10);
    for (i = 0; i < 10; i++) {
        char p[32];

        snprintf(p, sizeof(p), "mounts.%zu.destination", i);
        assert_string_equal(str_at(spec, p), order[i]);
    }
    assert_json(mount_at(spec, "/dev"), "options",
                "[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]");
    assert_json(mount_at(spec, "/dev/pts"), "options",
                "[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\","
                "\"mode=0620\",\"gid=5\"]");
    assert_json(mount_at(spec, "/sys"), "options",
                "[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]");
    assert_string_equal(str_at(mount_at(spec, "/sys/fs/cgroup"), "type"),
                        "cgroup");
    assert_json(mount_at(spec, "/dev/shm"), "options",
                "[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\","
                "\"size=67108864\"]");
    text = xasprintf("%s/hosts", f->cdir);
    assert_string_equal(str_at(mount_at(spec, "/etc/hosts"), "source"), text);
    free(text);
    assert_json(mount_at(spec, "/etc/hosts"), "options",
                "[\"rbind\",\"rprivate\"]");
    assert_json(spec, "linux.namespaces",
                "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
                "{\"type\":\"mount\"},{\"type\":\"network\"}]");
    assert_string_equal(str_at(spec, "linux.cgroupsPath"), "/shoal/" ID);
    assert_json(spec, "linux.resources.devices.0",
                "{\"allow\":false,\"access\":\"rwm\"}");
    assert_json(spec, "linux.resources.devices.3",
                "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,"
                "\"access\":\"rwm\"}");
    assert_json(spec, "linux.resources.devices.11",
                "{\"allow\":true,\"type\":\"c\",\"major\":136,"
                "\"access\":\"rwm\"}");
    assert_int_equal(json_array_size(at(spec, "linux.resources.devices")),
                     12);
    assert_null(at(spec, "linux.resources.memory"));
    assert_null(at(spec, "linux.resources.cpu"));
    assert_null(at(spec, "linux.resources.pids"));
    assert_true(has_str(at(spec, "linux.maskedPaths"), "/proc/kcore"));
    assert_true(has_str(at(spec, "linux.maskedPaths"), "/sys/firmware"));
    assert_true(has_str(at(spec, "linux.maskedPaths"), "/proc/timer_list"));
    assert_json(spec, "linux.readonlyPaths",
                "[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\","
                "\"/proc/sysrq-trigger\"]");
    assert_null(at(spec, "linux.seccomp"));
    json_decref(spec);

    text = read_text(f->cdir, "hostname");
    assert_string_equal(text, "0123456789ab\n");
    free(text);
    text = read_text(f->cdir, "hosts");
    assert_non_null(strstr(text, "127.0.0.1\tlocalhost\n"));
    assert_non_null(strstr(text, "::1\tlocalhost ip6-localhost"));
    assert_non_null(strstr(text, "\n127.0.0.1\t0123456789ab\n"));
    free(text);
    text = read_text(f->cdir, "resolv.conf");
    assert_null(strstr(text, "nameserver 127."));
    assert_non_null(strstr(text, "nameserver "));
    free(text);
}

static void test_args(void **state)
{
    struct fixture *f = *state;
    const char *img = "{\"config\":{\"Entrypoint\":[\"/e\",\"-x\"],"
                      "\"Cmd\":[\"c1\",\"c2\"],\"WorkingDir\":\"/w\","
                      "\"User\":\"app\"}}";
    struct {
        const char *config;
        const char *args;
    } cases[] = {
        {"{}", "[\"/e\",\"-x\",\"c1\",\"c2\"]"},
        {"{\"Cmd\":[\"x\"]}", "[\"/e\",\"-x\",\"x\"]"},
        {"{\"Entrypoint\":[\"/y\"]}", "[\"/y\"]"},
        {"{\"Entrypoint\":[\"/y\"],\"Cmd\":[\"z\"]}", "[\"/y\",\"z\"]"},
        {"{\"Entrypoint\":[\"\"],\"Cmd\":[\"z\",\"1\"]}", "[\"z\",\"1\"]"},
        {"{\"Entrypoint\":null,\"Cmd\":[]}", "[\"/e\",\"-x\",\"c1\",\"c2\"]"},
    };
    struct err err;
    json_t *spec;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        spec = build_ok(f, cases[i].config, "{}", img);
        assert_json(spec, "process.args", cases[i].args);
        assert_string_equal(str_at(spec, "process.cwd"), "/w");
        assert_int_equal(int_at(spec, "process.user.uid"), 1000);
        json_decref(spec);
    }
    /* Container values override the image's. */
    spec = build_ok(f, "{\"WorkingDir\":\"/other\",\"User\":\"nobody\"}",
                    "{}", img);
    assert_string_equal(str_at(spec, "process.cwd"), "/other");
    assert_int_equal(int_at(spec, "process.user.uid"), 65534);
    json_decref(spec);
    /* Nothing to run. */
    spec = build(f, "{\"Entrypoint\":[\"\"]}", "{}", img, &err);
    assert_null(spec);
    assert_string_equal(err.msg, "no command specified");
    assert_int_equal(err.code, ERR_INVALID);
    spec = build(f, "{}", "{}", "{\"config\":{}}", &err);
    assert_null(spec);
    assert_string_equal(err.msg, "no command specified");
    spec = build(f, "{}", "{}", NULL, &err);
    assert_null(spec);
    assert_string_equal(err.msg, "no command specified");
    spec = build(f, "{\"Cmd\":[\"x\"],\"WorkingDir\":\"rel\"}", "{}", NULL,
                 &err);
    assert_null(spec);
    assert_string_equal(err.msg, "the working directory 'rel' is invalid, "
                                 "it needs to be an absolute path");
}

static void test_env(void **state)
{
    struct fixture *f = *state;
    const char *img = "{\"config\":{\"Cmd\":[\"sh\"],"
                      "\"Env\":[\"A=img\",\"B=img\",\"GONE=1\"]}}";
    json_t *spec;

    spec = build_ok(f,
                    "{\"Env\":[\"B=ctr\",\"C=ctr\",\"GONE\"],\"Tty\":true,"
                    "\"Hostname\":\"web\"}",
                    "{}", img);
    assert_json(spec, "process.env",
                "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                "/sbin:/bin\",\"HOSTNAME=web\",\"TERM=xterm\",\"A=img\","
                "\"B=ctr\",\"C=ctr\"]");
    assert_json(spec, "process.terminal", "true");
    assert_string_equal(str_at(spec, "hostname"), "web");
    json_decref(spec);
    /* Merging a config that was merged at create changes nothing. */
    {
        json_t *c = parse("{\"Env\":[\"B=ctr\"],\"Entrypoint\":[\"/y\"]}");
        json_t *i = parse(img);
        json_t *once = oci_spec_merge_config(c, i);
        json_t *twice = oci_spec_merge_config(once, i);

        assert_true(json_equal(once, twice));
        assert_json(once, "Env", "[\"A=img\",\"B=ctr\",\"GONE=1\"]");
        assert_null(at(once, "Cmd"));
        json_decref(twice);
        json_decref(once);
        json_decref(i);
        json_decref(c);
    }
}

static void test_user(void **state)
{
    struct fixture *f = *state;
    struct {
        const char *user;
        const char *expect;
    } cases[] = {
        {"", "{\"uid\":0,\"gid\":0}"},
        {"root", "{\"uid\":0,\"gid\":0}"},
        {"nobody", "{\"uid\":65534,\"gid\":65534}"},
        {"app", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[50,29]}"},
        {"1000", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[50,29]}"},
        {"app:staff", "{\"uid\":1000,\"gid\":50}"},
        {"app:7", "{\"uid\":1000,\"gid\":7}"},
        {"4242", "{\"uid\":4242,\"gid\":0}"},
        {"4242:4343", "{\"uid\":4242,\"gid\":4343}"},
        {"nobody:nogroup", "{\"uid\":65534,\"gid\":65534}"},
    };
    char config[128];
    char path[256];
    char target[256];
    struct err err;
    json_t *spec;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(config, sizeof(config), "{\"User\":\"%s\"}", cases[i].user);
        spec = build_ok(f, config, "{}", "{\"config\":{\"Cmd\":[\"sh\"]}}");
        assert_json(spec, "process.user", cases[i].expect);
        json_decref(spec);
    }
    spec = build_ok(f, "{\"User\":\"nobody\"}", "{\"GroupAdd\":[\"audio\",\"7\"]}",
                    "{\"config\":{\"Cmd\":[\"sh\"]}}");
    assert_json(spec, "process.user",
                "{\"uid\":65534,\"gid\":65534,\"additionalGids\":[29,7]}");
    json_decref(spec);
    expect_err(f, "{\"User\":\"nosuch\"}", "{}", ERR_INVALID,
               "unable to find user nosuch: no matching entries in passwd "
               "file");
    expect_err(f, "{\"User\":\"app:nosuch\"}", "{}", ERR_INVALID,
               "unable to find group nosuch: no matching entries in group "
               "file");
    expect_err(f, "{\"User\":\"99999999999\"}", "{}", ERR_INVALID,
               "uids and gids must be in range 0-2147483647");
    /* /etc/passwd as an absolute symlink resolves inside the root. */
    snprintf(path, sizeof(path), "%s/etc/passwd", f->rootfs);
    snprintf(target, sizeof(target), "%s/etc/passwd.real", f->rootfs);
    assert_int_equal(rename(path, target), 0);
    assert_int_equal(symlink("/etc/passwd.real", path), 0);
    spec = build_ok(f, "{\"User\":\"app\"}", "{}",
                    "{\"config\":{\"Cmd\":[\"sh\"]}}");
    assert_int_equal(int_at(spec, "process.user.uid"), 1000);
    json_decref(spec);
    /* No passwd file at all: numbers only. */
    assert_int_equal(unlink(path), 0);
    spec = build_ok(f, "{\"User\":\"5:6\"}", "{}",
                    "{\"config\":{\"Cmd\":[\"sh\"]}}");
    assert_json(spec, "process.user", "{\"uid\":5,\"gid\":6}");
    json_decref(spec);
    spec = build(f, "{\"User\":\"app\"}", "{}",
                 "{\"config\":{\"Cmd\":[\"sh\"]}}", &err);
    assert_null(spec);
    assert_string_equal(err.msg, "unable to find user app: no matching "
                                 "entries in passwd file");
}

static void test_resources(void **state)
{
    struct fixture *f = *state;
    json_t *spec;

    spec = build_ok(f, "{}",
                    "{\"Memory\":67108864,\"MemoryReservation\":33554432,"
                    "\"NanoCpus\":1500000000,\"CpuShares\":512,"
                    "\"CpusetCpus\":\"0\",\"PidsLimit\":100,"
                    "\"OomKillDisable\":true}",
                    "{\"config\":{\"Cmd\":[\"sh\"]}}");
    assert_int_equal(int_at(spec, "linux.resources.memory.limit"), 67108864);
    assert_int_equal(int_at(spec, "linux.resources.memory.swap"), 134217728);
    assert_int_equal(int_at(spec, "linux.resources.memory.reservation"),
                     33554432);
    assert_json(spec, "linux.resources.memory.disableOOMKiller", "true");
    assert_int_equal(int_at(spec, "linux.resources.cpu.period"), 100000);
    assert_int_equal(int_at(spec, "linux.resources.cpu.quota"), 150000);
    assert_int_equal(int_at(spec, "linux.resources.cpu.shares"), 512);
    assert_string_equal(str_at(spec, "linux.resources.cpu.cpus"), "0");
    assert_int_equal(int_at(spec, "linux.resources.pids.limit"), 100);
    json_decref(spec);
    spec = build_ok(f, "{}",
                    "{\"Memory\":67108864,\"MemorySwap\":-1,"
                    "\"CpuQuota\":50000,\"CpuPeriod\":200000,"
                    "\"PidsLimit\":-1}",
                    "{\"config\":{\"Cmd\":[\"sh\"]}}");
    assert_int_equal(int_at(spec, "linux.resources.memory.swap"), -1);
    assert_int_equal(int_at(spec, "linux.resources.cpu.quota"), 50000);
    assert_int_equal(int_at(spec, "linux.resources.cpu.period"), 200000);
    assert_null(at(spec, "linux.resources.pids"));
    json_decref(spec);
    spec = build_ok(f, "{}",
                    "{\"Memory\":67108864,\"MemorySwap\":100000000,"
                    "\"Sysctls\":{\"net.ipv4.ip_forward\":\"1\"},"
                    "\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,"
                    "\"Hard\":2048},{\"Name\":\"nproc\",\"Soft\":10,"
                    "\"Hard\":10}],\"OomScoreAdj\":500,"
                    "\"SecurityOpt\":[\"no-new-privileges\"]}",
                    "{\"config\":{\"Cmd\":[\"sh\"]}}");
    assert_int_equal(int_at(spec, "linux.resources.memory.swap"), 100000000);
    assert_json(spec, "linux.sysctl", "{\"net.ipv4.ip_forward\":\"1\"}");
    assert_json(spec, "process.rlimits",
                "[{\"type\":\"RLIMIT_NOFILE\",\"hard\":2048,\"soft\":1024},"
                "{\"type\":\"RLIMIT_NPROC\",\"hard\":10,\"soft\":10}]");
    assert_int_equal(int_at(spec, "process.oomScoreAdj"), 500);
    assert_json(spec, "process.noNewPrivileges", "true");
    json_decref(spec);
}

static void test_validation(void **state)
{
    struct fixture *f = *state;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    char hc[128];
    char msg[160];
    struct {
        const char *hc;
        const char *msg;
    } cases[] = {
        {"{\"Memory\":1000}", "Minimum memory limit allowed is 6MB"},
        {"{\"MemoryReservation\":1000}",
         "Minimum memory reservation allowed is 6MB"},
        {"{\"MemorySwap\":100000000}",
         "You should always set the Memory limit when using Memoryswap "
         "limit, see usage"},
        {"{\"Memory\":100000000,\"MemorySwap\":10000000}",
         "Minimum memoryswap limit should be larger than memory limit, see "
         "usage"},
        {"{\"Memory\":10000000,\"MemoryReservation\":20000000}",
         "Minimum memory limit can not be less than memory reservation "
         "limit, see usage"},
        {"{\"NanoCpus\":1000000000,\"CpuQuota\":50000}",
         "Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
        {"{\"NanoCpus\":1000000000,\"CpuPeriod\":50000}",
         "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
        {"{\"CpuPeriod\":10}",
         "CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
         "than 1s (i.e. 1000000)"},
        {"{\"CpuQuota\":10}",
         "CPU cfs quota can not be less than 1ms (i.e. 1000)"},
        {"{\"CpusetCpus\":\"a-b\"}", "Invalid value a-b for cpuset cpus"},
        {"{\"CpusetCpus\":\"3-1\"}", "Invalid value 3-1 for cpuset cpus"},
        {"{\"CpusetMems\":\"x\"}", "Invalid value x for cpuset mems"},
        {"{\"CapAdd\":[\"FOO\"]}", "unknown capability: \"CAP_FOO\""},
        {"{\"CapDrop\":[\"cap_bar\"]}", "unknown capability: \"CAP_BAR\""},
        {"{\"ShmSize\":-1}", "SHM size can not be less than 0"},
        {"{\"OomScoreAdj\":1001}",
         "Invalid value 1001, range for oom score adj is [-1000, 1000]"},
        {"{\"Sysctls\":{\"kernel.hostname\":\"x\"}}",
         "sysctl 'kernel.hostname' is not allowed"},
        {"{\"NetworkMode\":\"host\",\"Sysctls\":{\"net.core.somaxconn\":"
         "\"1\"}}",
         "sysctl \"net.core.somaxconn\" not allowed in host network "
         "namespace"},
        {"{\"Ulimits\":[{\"Name\":\"bogus\",\"Soft\":1,\"Hard\":1}]}",
         "invalid ulimit type: bogus"},
        {"{\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":2,\"Hard\":1}]}",
         "ulimit soft limit must be less than or equal to hard limit: 2 > "
         "1"},
        {"{\"Memory\":\"lots\"}", "invalid Memory: expected an integer"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_err(f, "{}", cases[i].hc, ERR_INVALID, cases[i].msg);
    snprintf(hc, sizeof(hc), "{\"NanoCpus\":%ld}", (n + 1) * 1000000000L);
    snprintf(msg, sizeof(msg),
             "Range of CPUs is from 0.01 to %ld.00, as there are only %ld "
             "CPUs available",
             n, n);
    expect_err(f, "{}", hc, ERR_INVALID, msg);
    snprintf(hc, sizeof(hc), "{\"CpusetCpus\":\"0-%ld\"}", n);
    snprintf(msg, sizeof(msg),
             "Requested CPUs are not available - requested 0-%ld, available: "
             "0-%ld",
             n, n - 1);
    expect_err(f, "{}", hc, ERR_INVALID, msg);
    expect_err(f, "{\"Hostname\":\"bad host\"}", "{}", ERR_INVALID,
               "invalid hostname format: bad host");
    expect_err(f, "{}", "{\"NetworkMode\":\"container:abc\"}",
               ERR_NOTIMPLEMENTED,
               "NetworkMode mode container:abc: sharing another container's "
               "namespace is not supported yet");
}

static void test_caps(void **state)
{
    struct fixture *f = *state;
    const char *img = "{\"config\":{\"Cmd\":[\"sh\"]}}";
    FILE *cap;
    long n_caps;
    json_t *spec;
    json_t *caps;

    spec = build_ok(f, "{}",
                    "{\"CapAdd\":[\"net_admin\",\"CAP_SYS_PTRACE\"],"
                    "\"CapDrop\":[\"CHOWN\",\"cap_kill\"]}",
                    img);
    caps = at(spec, "process.capabilities.effective");
    assert_int_equal(json_array_size(caps), 14);
    assert_true(has_str(caps, "CAP_NET_ADMIN"));
    assert_true(has_str(caps, "CAP_SYS_PTRACE"));
    assert_false(has_str(caps, "CAP_CHOWN"));
    assert_false(has_str(caps, "CAP_KILL"));
    json_decref(spec);
    spec = build_ok(f, "{}",
                    "{\"CapAdd\":[\"NET_ADMIN\"],\"CapDrop\":[\"ALL\"]}", img);
    assert_json(spec, "process.capabilities.bounding", "[\"CAP_NET_ADMIN\"]");
    json_decref(spec);
    cap = fopen("/proc/sys/kernel/cap_last_cap", "r");
    assert_non_null(cap);
    assert_int_equal(fscanf(cap, "%ld", &n_caps), 1);
    fclose(cap);
    n_caps++;
    spec = build_ok(f, "{}", "{\"CapAdd\":[\"ALL\"],\"CapDrop\":[\"MKNOD\"]}",
                    img);
    caps = at(spec, "process.capabilities.permitted");
    assert_int_equal(json_array_size(caps), n_caps - 1);
    assert_true(has_str(caps, "CAP_SYS_ADMIN"));
    assert_false(has_str(caps, "CAP_MKNOD"));
    json_decref(spec);
    /* Privileged: everything, nothing masked, every device. */
    spec = build_ok(f, "{}", "{\"Privileged\":true}", img);
    assert_int_equal(json_array_size(at(spec, "process.capabilities.bounding")),
                     n_caps);
    assert_null(at(spec, "linux.maskedPaths"));
    assert_null(at(spec, "linux.readonlyPaths"));
    assert_json(spec, "linux.resources.devices",
                "[{\"allow\":true,\"access\":\"rwm\"}]");
    assert_json(mount_at(spec, "/sys"), "options",
                "[\"nosuid\",\"noexec\",\"nodev\"]");
    json_decref(spec);
}

static void test_mounts(void **state)
{
    struct fixture *f = *state;
    const char *img = "{\"config\":{\"Cmd\":[\"sh\"]}}";
    char hc[1024];
    char *src = xasprintf("%s/src", f->dir);
    char *created = xasprintf("%s/created/by/bind", f->dir);
    char *msg;
    json_t *spec;
    json_t *m;

    assert_int_equal(fsutil_mkdir_p(src, 0755, NULL), 0);
    snprintf(hc, sizeof(hc),
             "{\"Binds\":[\"%s:/data/inner:ro\",\"%s:/data\","
             "\"%s:/b2:rw,rshared,z\"],"
             "\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"%s\","
             "\"Target\":\"/m\",\"ReadOnly\":true,\"BindOptions\":"
             "{\"NonRecursive\":true}},{\"Type\":\"tmpfs\",\"Target\":"
             "\"/t1\",\"TmpfsOptions\":{\"SizeBytes\":1048576,"
             "\"Mode\":448}}],"
             "\"Tmpfs\":{\"/run/\":\"exec,size=64m\",\"/dev/shm\":\"\","
             "\"/t2\":\"suid,dev,nodev,rw\"},"
             "\"ShmSize\":1234}",
             src, src, created, src);
    spec = build_ok(f, "{}", hc, img);
    assert_true(fsutil_exists(created));
    m = mount_at(spec, "/data/inner");
    assert_non_null(m);
    assert_string_equal(str_at(m, "source"), src);
    assert_string_equal(str_at(m, "type"), "bind");
    assert_json(m, "options", "[\"rbind\",\"ro\",\"rprivate\"]");
    assert_json(mount_at(spec, "/data"), "options", "[\"rbind\",\"rprivate\"]");
    assert_json(mount_at(spec, "/b2"), "options", "[\"rbind\",\"rshared\"]");
    assert_json(mount_at(spec, "/m"), "options",
                "[\"bind\",\"ro\",\"rprivate\"]");
    assert_json(mount_at(spec, "/t1"), "options",
                "[\"noexec\",\"nosuid\",\"nodev\",\"size=1048576\","
                "\"mode=700\"]");
    assert_json(mount_at(spec, "/run"), "options",
                "[\"nosuid\",\"nodev\",\"size=64m\"]");
    assert_json(mount_at(spec, "/t2"), "options",
                "[\"noexec\",\"nodev\",\"rw\"]");
    /* The user's /dev/shm replaces Docker's (and ShmSize with it). */
    assert_json(mount_at(spec, "/dev/shm"), "options",
                "[\"noexec\",\"nosuid\",\"nodev\"]");
    /* Parents before what is mounted inside them. */
    {
        size_t i;
        size_t i_data = 0;
        size_t i_inner = 0;

        json_array_foreach(at(spec, "mounts"), i, m) {
            const char *d = str_at(m, "destination");

            if (strcmp(d, "/data") == 0)
                i_data = i;
            if (strcmp(d, "/data/inner") == 0)
                i_inner = i;
        }
        assert_true(i_data < i_inner);
    }
    json_decref(spec);

    snprintf(hc, sizeof(hc), "{\"Binds\":[\"%s:/x\",\"%s:/x/\"]}", src, src);
    expect_err(f, "{}", hc, ERR_INVALID, "Duplicate mount point: /x");
    snprintf(hc, sizeof(hc),
             "{\"Binds\":[\"%s:/x\"],\"Tmpfs\":{\"/x\":\"\"}}", src);
    expect_err(f, "{}", hc, ERR_INVALID, "Duplicate mount point: /x");
    expect_err(f, "{}",
               "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/no/such/dir\","
               "\"Target\":\"/x\"}]}",
               ERR_INVALID,
               "invalid mount config for type \"bind\": bind source path "
               "does not exist: /no/such/dir");
    expect_err(f, "{}",
               "{\"Mounts\":[{\"Type\":\"tmpfs\",\"Source\":\"/a\","
               "\"Target\":\"/x\"}]}",
               ERR_INVALID,
               "invalid mount config for type \"tmpfs\": field Source must "
               "not be specified");
    expect_err(f, "{}", "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/\"}]}",
               ERR_INVALID,
               "invalid mount config for type \"bind\": field Target must "
               "not be empty");
    expect_err(f, "{}", "{\"Mounts\":[{\"Type\":\"weird\",\"Target\":\"/x\"}]}",
               ERR_INVALID,
               "invalid mount config for type \"weird\": mount type unknown");
    expect_err(f, "{}",
               "{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v\","
               "\"Target\":\"/x\"}]}",
               ERR_NOTIMPLEMENTED,
               "invalid mount config for type \"volume\": volumes are not "
               "supported yet");
    expect_err(f, "{}", "{\"Binds\":[\"/a:rel\"]}", ERR_INVALID,
               "invalid volume specification: '/a:rel': invalid mount config "
               "for type \"bind\": invalid mount path: 'rel' mount path must "
               "be absolute");
    expect_err(f, "{}", "{\"Binds\":[\"/a:/\"]}", ERR_INVALID,
               "invalid specification: destination can't be '/'");
    expect_err(f, "{}", "{\"Binds\":[\"/a:/b:bogus\"]}", ERR_INVALID,
               "invalid mode: bogus");
    expect_err(f, "{}", "{\"Binds\":[\"/a:/b:c:d\"]}", ERR_INVALID,
               "invalid volume specification: '/a:/b:c:d'");
    expect_err(f, "{}", "{\"Binds\":[\"myvol:/data\"]}", ERR_NOTIMPLEMENTED,
               "invalid volume specification: 'myvol:/data': named volumes "
               "are not supported yet");
    expect_err(f, "{}", "{\"Binds\":[\"./rel:/data\"]}", ERR_INVALID,
               "invalid volume specification: './rel:/data': \"./rel\" "
               "includes invalid characters for a local volume name, only "
               "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended "
               "to pass a host directory, use absolute path");
    msg = NULL;
    free(created);
    free(src);
    (void)msg;
}

static void test_readonly_init_hostnet(void **state)
{
    struct fixture *f = *state;
    json_t *spec;
    char *text;
    char *host = NULL;
    size_t len;

    spec = build_ok(f, "{\"Cmd\":[\"top\"]}",
                    "{\"ReadonlyRootfs\":true,\"Init\":true,"
                    "\"ExtraHosts\":[\"db:10.0.0.5\"]}",
                    NULL);
    assert_json(spec, "root.readonly", "true");
    assert_json(spec, "process.args",
                "[\"/sbin/docker-init\",\"--\",\"top\"]");
    assert_json(mount_at(spec, "/sbin/docker-init"), "source",
                "\"/usr/bin/tini-static\"");
    assert_json(mount_at(spec, "/sbin/docker-init"), "options",
                "[\"bind\",\"ro\",\"rprivate\"]");
    assert_json(mount_at(spec, "/sys/fs/cgroup"), "options",
                "[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]");
    assert_json(mount_at(spec, "/etc/hosts"), "options",
                "[\"rbind\",\"rprivate\",\"ro\"]");
    assert_json(mount_at(spec, "/dev/shm"), "options",
                "[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\","
                "\"size=67108864\"]");
    json_decref(spec);
    text = read_text(f->cdir, "hosts");
    assert_non_null(strstr(text, "10.0.0.5\tdb\n"));
    free(text);

    spec = build_ok(f, "{\"Cmd\":[\"top\"],\"Domainname\":\"example.org\"}",
                    "{\"NetworkMode\":\"host\",\"IpcMode\":\"host\","
                    "\"Dns\":[\"10.1.1.1\"],"
                    "\"DnsSearch\":[\"a.b\"]}",
                    NULL);
    assert_json(spec, "linux.namespaces",
                "[{\"type\":\"pid\"},{\"type\":\"uts\"},"
                "{\"type\":\"mount\"}]");
    assert_json(mount_at(spec, "/dev/shm"), "source", "\"/dev/shm\"");
    assert_null(mount_at(spec, "/dev/mqueue"));
    text = read_text(f->cdir, "hosts");
    assert_int_equal(fsutil_read_all("/etc/hosts", 1 << 20, &host, &len, NULL),
                     0);
    assert_string_equal(text, host);
    free(host);
    free(text);
    text = read_text(f->cdir, "resolv.conf");
    assert_non_null(strstr(text, "nameserver 10.1.1.1\n"));
    assert_non_null(strstr(text, "search a.b\n"));
    assert_null(strstr(text, "nameserver 1"
                             "27."));
    free(text);
    json_decref(spec);
}

static void test_exec(void **state)
{
    struct fixture *f = *state;
    json_t *ctr = ctr_new("{\"Env\":[\"A=1\",\"PATH=/x\"],\"User\":\"app\","
                          "\"WorkingDir\":\"/w\"}",
                          "{\"CapAdd\":[\"NET_ADMIN\"]}");
    json_t *gd = json_object();
    json_t *data = json_object();
    json_t *x;
    json_t *proc;
    struct err err;

    json_object_set_new(data, "MergedDir", json_string(f->rootfs));
    json_object_set_new(gd, "Data", data);
    json_object_set_new(ctr, "GraphDriver", gd);

    x = parse("{\"Cmd\":[\"ls\",\"-l\"],\"Env\":[\"B=2\",\"A=3\"],"
              "\"Tty\":true}");
    proc = oci_spec_exec_process(ctr, x, &err);
    if (proc == NULL)
        fail_msg("oci_spec_exec_process: %s", err.msg);
    assert_json(proc, "args", "[\"ls\",\"-l\"]");
    assert_json(proc, "env",
                "[\"PATH=/x\",\"HOSTNAME=0123456789ab\",\"TERM=xterm\","
                "\"A=3\",\"B=2\"]");
    assert_json(proc, "user",
                "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[50,29]}");
    assert_string_equal(str_at(proc, "cwd"), "/w");
    assert_json(proc, "terminal", "true");
    assert_true(has_str(at(proc, "capabilities.bounding"), "CAP_NET_ADMIN"));
    json_decref(proc);
    json_decref(x);

    x = parse("{\"Cmd\":[\"id\"],\"User\":\"nobody\",\"WorkingDir\":\"/tmp\","
              "\"Privileged\":true}");
    proc = oci_spec_exec_process(ctr, x, &err);
    assert_non_null(proc);
    assert_int_equal(int_at(proc, "user.uid"), 65534);
    assert_string_equal(str_at(proc, "cwd"), "/tmp");
    assert_true(has_str(at(proc, "capabilities.bounding"), "CAP_SYS_ADMIN"));
    json_decref(proc);
    json_decref(x);

    x = parse("{\"Cmd\":[]}");
    assert_null(oci_spec_exec_process(ctr, x, &err));
    assert_string_equal(err.msg, "No exec command specified");
    assert_int_equal(err.code, ERR_INVALID);
    json_decref(x);
    x = parse("{\"Cmd\":[\"id\"],\"User\":\"ghost\"}");
    assert_null(oci_spec_exec_process(ctr, x, &err));
    assert_string_equal(err.msg, "unable to find user ghost: no matching "
                                 "entries in passwd file");
    json_decref(x);
    json_decref(ctr);
}

/* ---- real runc ---- */

static int run(const char *cmd, char *out, size_t out_len)
{
    FILE *p = popen(cmd, "r");
    size_t n;

    assert_non_null(p);
    n = fread(out, 1, out_len - 1, p);
    out[n] = '\0';
    return pclose(p);
}

/* A busybox layer, the overlay over it, the spec: runc runs it. */
static void test_runc_accepts(void **state)
{
    struct fixture *f = *state;
    char *layer = xasprintf("%s/layer", f->dir);
    char *bundle = f->cdir;
    char *cmd;
    char *rootfs = xasprintf("%s/rootfs", bundle);
    char *upper = xasprintf("%s/upper", f->dir);
    char *lowers[2] = {layer, NULL};
    char *path;
    char out[4096];
    struct err err;
    json_t *ctr;
    json_t *spec;
    int rv;

    if (geteuid() != 0 || access("/usr/sbin/runc", X_OK) != 0 ||
        access("/bin/busybox", X_OK) != 0) {
        free(layer);
        free(rootfs);
        free(upper);
        skip();
    }
    cmd = xasprintf("mkdir -p %s/bin %s/etc && cp /bin/busybox %s/bin/ && "
                    "for a in sh id hostname cat ls; do "
                    "ln -s busybox %s/bin/$a; done && "
                    "printf 'root:x:0:0:root:/root:/bin/sh\\n"
                    "app:x:1000:1000::/:/bin/sh\\n' >%s/etc/passwd && "
                    "printf 'root:x:0:\\nstaff:x:50:app\\n' >%s/etc/group",
                    layer, layer, layer, layer, layer, layer);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_equal(rootfs_mount(bundle, lowers, upper, &err), 0);
    ctr = ctr_new("{\"Cmd\":[\"sh\",\"-c\",\"id; hostname; cat /etc/hosts; "
                  "ls /sbin/docker-init; cat /proc/self/status | grep CapEff; "
                  "echo $GREETING\"],"
                  "\"Env\":[\"GREETING=hello\"],\"User\":\"app\","
                  "\"Hostname\":\"runcbox\"}",
                  "{\"Init\":true,\"Memory\":67108864,\"PidsLimit\":50,"
                  "\"NanoCpus\":500000000}");
    spec = oci_spec_build(ctr, NULL, rootfs, bundle, &err);
    if (spec == NULL)
        fail_msg("oci_spec_build: %s", err.msg);
    path = xasprintf("%s/config.json", bundle);
    assert_int_equal(json_dump_file(spec, path, JSON_INDENT(2)), 0);
    free(path);
    cmd = xasprintf("runc --root %s/runc run --bundle %s test-oci-spec-%d "
                    "2>&1 </dev/null",
                    f->dir, bundle, (int)getpid());
    rv = run(cmd, out, sizeof(out));
    free(cmd);
    if (rv != 0)
        fail_msg("runc run failed (%d): %s", rv, out);
    assert_non_null(strstr(out, "uid=1000(app) gid=1000 groups=50(staff)"));
    assert_non_null(strstr(out, "runcbox\n"));
    assert_non_null(strstr(out, "127.0.0.1\truncbox\n"));
    assert_non_null(strstr(out, "/sbin/docker-init\n"));
    assert_non_null(strstr(out, "hello\n"));
    json_decref(spec);
    json_decref(ctr);
    assert_int_equal(rootfs_unmount(bundle, &err), 0);
    free(upper);
    free(rootfs);
    free(layer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_init_hostnet, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runc_accepts, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
