/* The kernel's floor for `diyc run --rm --net none busybox true`: the
 * same system calls that make the container's isolation, made one after
 * the other by the smallest program that can, with none of diyc's own
 * work (its state files, checks, explanation, records for clean-up).
 * What diyc takes above this line is diyc's; what it takes below it is
 * the kernel's, and no runtime making this container could do without.
 * The one piece of diyc's hardening left out is the trampoline (one more
 * exec, from a sealed memfd), which the benchmark measures on its own.
 *
 *   floor WORKDIR LOWERDIR FILTER OPTIONS:CGROUP_DIR...
 *
 * WORKDIR gets the in-memory writable layer (a tmpfs mounted in the
 * container's mount namespace only, as diyc does for --rm); FILTER holds
 * the seccomp program as the kernel's sock_filter array; each cgroup
 * directory is made, limited as diyc limits it, joined the way diyc
 * joins it (clone3 into it on v2, the child writing itself into each v1
 * tree) and removed. The options are the tree's controllers ("cgroup2"
 * for v2). On v2 diyc also attaches a device program (BPF) to the
 * cgroup, which this leaves out: there the floor is a little low. Errors
 * stop it with one line, and what it made goes: a floor that skipped
 * work would mean nothing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the parent made, undone by die(): a floor that failed half way
 * leaves no cgroup behind. */
static char made[64][4096];
static int nmade;
static pid_t owner, child_pid;

static void die(const char *what) {
    perror(what);
    if (getpid() == owner) {
        if (child_pid > 0 && kill(child_pid, SIGKILL) == 0)
            waitpid(child_pid, NULL, 0);
        while (nmade > 0)
            rmdir(made[--nmade]);
    }
    exit(125);
}

static int v2(const char *tree) {
    return strncmp(tree, "cgroup2:", 8) == 0;
}

/* Whether the tree's OPTIONS (before the colon) name `option`. */
static int has_option(const char *tree, const char *option) {
    size_t len = strlen(option);
    for (const char *at = tree; *at && *at != ':';) {
        if (strncmp(at, option, len) == 0 && (at[len] == ',' || at[len] == ':'))
            return 1;
        at += strcspn(at, ",:");
        if (*at == ',')
            at++;
    }
    return 0;
}

static void put(const char *dir, const char *file, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        die(path);
    close(fd);
}

static void mnt(const char *src, const char *at, const char *type, unsigned long flags,
                const char *data) {
    if (mount(src, at, type, flags, data) < 0)
        die(at);
}

static void dir(const char *path, mode_t mode) {
    if (mkdir(path, mode) < 0)
        die(path);
}

/* The child: everything diyc's stages do inside, in their order. */
static int inside(int go, const int *tasks, int ntasks, char *work, const char *lower,
                  int filter, int ntrees, char **trees) {
    char c;
    if (read(go, &c, 1) != 1)
        die("waiting for the cgroups");
    /* As diyc's child does on v1: a thread moving itself through `tasks`
     * is spared the kernel's global lock (and the RCU grace period taking
     * it may wait for) that moving another process needs. */
    for (int i = 0; i < ntasks; i++)
        if (write(tasks[i], "0", 1) != 1)
            die("joining a cgroup");
    if (unshare(CLONE_NEWCGROUP) < 0)
        die("unshare");
    mnt(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    if (sethostname("floor", 5) < 0 || setdomainname("diyc", 4) < 0)
        die("hostname");
    mnt("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1048576k");
    char p[4096], q[4096], opts[8192];
    snprintf(p, sizeof p, "%s/upper", work), dir(p, 0755);
    snprintf(p, sizeof p, "%s/work", work), dir(p, 0755);
    snprintf(p, sizeof p, "%s/merged", work), dir(p, 0755);
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, work,
             work);
    mnt("overlay", p, "overlay", 0, opts);
    if (chdir(p) < 0)
        die(p);
    mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    static const struct { const char *name; int major, minor; } devs[] = {
        {"dev/null", 1, 3}, {"dev/zero", 1, 5},    {"dev/full", 1, 7},
        {"dev/random", 1, 8}, {"dev/urandom", 1, 9}, {"dev/tty", 5, 0},
    };
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
        if (mknod(devs[i].name, S_IFCHR | 0666, makedev(devs[i].major, devs[i].minor)) < 0)
            die(devs[i].name);
    dir("dev/pts", 0755);
    mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5");
    dir("dev/shm", 01777);
    mnt("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    dir("dev/mqueue", 01777);
    mnt("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    static const char *links[][2] = {
        {"/proc/self/fd", "dev/fd"},     {"/proc/self/fd/0", "dev/stdin"},
        {"/proc/self/fd/1", "dev/stdout"}, {"/proc/self/fd/2", "dev/stderr"},
        {"pts/ptmx", "dev/ptmx"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (symlink(links[i][0], links[i][1]) < 0)
            die(links[i][1]);
    unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    mnt("sysfs", "sys", "sysfs", ro, NULL);
    if (ntrees == 1 && v2(trees[0])) {
        mnt("cgroup", "sys/fs/cgroup", "cgroup2", ro, NULL);
    } else {
        const char *small = "mode=755,size=64k";
        mnt("tmpfs", "sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, small);
        for (int i = 0; i < ntrees; i++) {
            char *colon = strchr(trees[i], ':');
            *colon = '\0';
            snprintf(q, sizeof q, "sys/fs/cgroup/%s", trees[i]);
            dir(q, 0755);
            mnt("cgroup", q, "cgroup", ro, trees[i]);
            *colon = ':';
        }
        mnt(NULL, "sys/fs/cgroup", NULL, ro | MS_REMOUNT, small);
    }
    /* The container's /etc/hostname, hosts and resolv.conf, bound. */
    static const char *etc[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(q, sizeof q, "%s/%s", work, etc[i] + 4);
        int fd = open(q, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "floor\n", 6) != 6)
            die(q);
        close(fd);
        /* A mount point made only where the image has none: opening the
         * image's own file for writing would copy it up. */
        if (access(etc[i], F_OK) != 0) {
            int at = open(etc[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (at < 0)
                die(etc[i]);
            close(at);
        }
        mnt(q, etc[i], NULL, MS_BIND, NULL);
    }
    if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        die("pivot_root");
    mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    /* lo up: the one link of --net none. */
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    if (s < 0 || ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        die("lo");
    close(s);
    put("/proc/sys/net/ipv4", "ping_group_range", "0 2147483647");
    if (setsid() < 0 || syscall(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, NULL) < 0)
        die("session");
    /* The masked and read-only paths of the hardening stage. */
    /* diyc's lists; like diyc, only what this kernel has. */
    static const char *masked[] = {"/proc/kcore",         "/proc/keys",        "/proc/timer_list",
                                   "/proc/sched_debug",   "/proc/latency_stats", "/proc/interrupts",
                                   "/sys/kernel/vmcoreinfo"};
    for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++)
        if (access(masked[i], F_OK) == 0)
            mnt("/dev/null", masked[i], NULL, MS_BIND, NULL);
    static const char *emptied[] = {"/proc/acpi", "/proc/scsi", "/sys/firmware",
                                    "/sys/devices/virtual/powercap"};
    for (size_t i = 0; i < sizeof emptied / sizeof emptied[0]; i++)
        if (access(emptied[i], F_OK) == 0)
            mnt("tmpfs", emptied[i], "tmpfs", MS_RDONLY, NULL);
    static const char *readonly[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus",
                                     "/proc/fs"};
    for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
        if (access(readonly[i], F_OK) != 0)
            continue;
        mnt(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL);
        mnt(readonly[i], readonly[i], NULL, ro | MS_REMOUNT | MS_BIND, NULL);
    }
    /* Capabilities: the bounding set cut to the twelve diyc keeps. */
    static const int kept[] = {0, 1, 3, 4, 5, 6, 7, 8, 10, 18, 29, 31};
    for (int cap = 0; cap <= 40; cap++) {
        int keep = 0;
        for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
            keep |= kept[i] == cap;
        if (!keep && prctl(PR_CAPBSET_DROP, cap) < 0 && cap < 38)
            die("capbset");
    }
    struct rlimit files = {1024, 4096};
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct caps[2] = {{0}};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        caps[0].effective |= 1u << kept[i];
    caps[0].permitted = caps[0].inheritable = caps[0].effective;
    if (setrlimit(RLIMIT_NOFILE, &files) < 0 ||
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_capset, &head, caps) < 0)
        die("limits and capabilities");
    static struct sock_filter program[4096];
    ssize_t n = read(filter, program, sizeof program);
    if (n <= 0 || n == (ssize_t)sizeof program || n % sizeof program[0] != 0) {
        errno = EINVAL;
        die("the filter (whole sock_filter instructions, at most 4095)");
    }
    struct sock_fprog prog = {.len = (unsigned short)(n / sizeof program[0]), .filter = program};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        die("seccomp");
    execl("/bin/true", "true", (char *)NULL);
    die("/bin/true");
    return 125;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: floor WORKDIR LOWERDIR FILTER OPTIONS:CGROUP_DIR...\n");
        return 125;
    }
    int ntrees = argc - 4;
    char **trees = argv + 4, mine[64], cg[4096], limit[4200];
    owner = getpid();
    snprintf(mine, sizeof mine, "floor-%d", owner);
    if (ntrees > 64) {
        errno = E2BIG;
        die("more than 64 cgroup trees");
    }
    for (int i = 0; i < ntrees; i++) {
        char *dirpart = strchr(trees[i], ':');
        if (!dirpart) {
            errno = EINVAL;
            die("OPTIONS:CGROUP_DIR");
        }
        snprintf(cg, sizeof cg, "%s/%s", dirpart + 1, mine);
        dir(cg, 0755);
        snprintf(made[nmade++], sizeof made[0], "%s", cg);
        snprintf(limit, sizeof limit, "%s/pids.max", cg);
        if (has_option(trees[i], "pids") || (v2(trees[i]) && access(limit, F_OK) == 0))
            put(cg, "pids.max", "2048");
        if (has_option(trees[i], "devices")) {
            static const char *allowed[] = {"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                                            "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
                                            "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"};
            put(cg, "devices.deny", "a");
            for (size_t k = 0; k < 9; k++)
                put(cg, "devices.allow", allowed[k]);
        }
    }
    /* Opened here: after pivot_root the host's files are out of reach. */
    int filter = open(argv[3], O_RDONLY | O_CLOEXEC);
    if (filter < 0)
        die(argv[3]);
    /* v1: each tree's tasks file, for the child to write itself into.
     * v2: the cgroup's directory, for clone3 to start the child in. */
    int tasks[64], ntasks = 0, into = -1;
    for (int i = 0; i < ntrees && i < 64; i++) {
        snprintf(cg, sizeof cg, "%s/%s%s", strchr(trees[i], ':') + 1, mine,
                 v2(trees[i]) ? "" : "/tasks");
        int fd = open(cg, v2(trees[i]) ? O_RDONLY | O_DIRECTORY | O_CLOEXEC : O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            die(cg);
        if (v2(trees[i]))
            into = fd;
        else
            tasks[ntasks++] = fd;
    }
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0)
        die("pipe");
    struct clone_args args = {
        .flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET |
                 (into >= 0 ? CLONE_INTO_CGROUP : 0),
        .exit_signal = SIGCHLD,
        .cgroup = (unsigned long long)(into >= 0 ? into : 0),
    };
    /* clone3 only where it starts the child in its cgroup (Linux 5.7). */
    pid_t child = into >= 0 ? (pid_t)syscall(SYS_clone3, &args, sizeof args)
                            : (pid_t)syscall(SYS_clone, args.flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (child < 0)
        die("clone");
    child_pid = child;
    if (child == 0) {
        close(gate[1]);
        return inside(gate[0], tasks, ntasks, argv[1], argv[2], filter, ntrees, trees);
    }
    close(gate[0]);
    for (int i = 0; i < ntasks; i++)
        close(tasks[i]);
    if (write(gate[1], "g", 1) != 1)
        die("letting the child go");
    int status;
    if (waitpid(child, &status, 0) < 0)
        die("waitpid");
    child_pid = 0;
    while (nmade > 0) {
        if (rmdir(made[nmade - 1]) < 0)
            die(made[nmade - 1]);
        nmade--;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
