/* Adds, reads and removes "user" keys, in the session keyring (s) or the
 * user's keyring (u), for the tests of a container's keyring. A key is
 * named by its description; its payload is "marker".
 *
 *   keyring add s|u NAME      prints the key's serial number
 *   keyring read s|u NAME     prints "read: PAYLOAD", or why not
 *   keyring remove s|u NAME   unlinks it, if it is there
 *
 * Exits 0 when the operation worked, 1 when the kernel refused it. */
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long ring(const char *which) {
    return which[0] == 'u' ? KEY_SPEC_USER_KEYRING : KEY_SPEC_SESSION_KEYRING;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: keyring add|read|remove s|u NAME\n");
        return 2;
    }
    const char *op = argv[1], *name = argv[3];
    long keyring = ring(argv[2]);
    if (!strcmp(op, "add")) {
        long id = syscall(SYS_add_key, "user", name, "marker", 6, keyring);
        if (id < 0) {
            printf("add: %s\n", strerror(errno));
            return 1;
        }
        printf("%ld\n", id);
        return 0;
    }
    long id = syscall(SYS_keyctl, KEYCTL_SEARCH, keyring, "user", name, 0);
    if (id < 0) {
        printf("search: %s\n", strerror(errno));
        return 1;
    }
    if (!strcmp(op, "remove"))
        return syscall(SYS_keyctl, KEYCTL_UNLINK, id, keyring) == 0 ? 0 : 1;
    char buf[64] = {0};
    long n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof buf - 1);
    if (n < 0) {
        printf("read: %s\n", strerror(errno));
        return 1;
    }
    printf("read: %s\n", buf);
    return 0;
}
