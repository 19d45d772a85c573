/* Pushes its argument into the input queue of the terminal on its stdin,
 * one byte at a time with ioctl(TIOCSTI), as if typed there, and says how
 * much of it the kernel took. A test helper: what an attacker inside a
 * container would try against the terminal it was handed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: tiocsti TEXT\n");
        return 2;
    }
    size_t pushed = 0, len = strlen(argv[1]);
    int err = 0;
    for (size_t i = 0; i < len; i++) {
        char c = argv[1][i] == '~' ? '\n' : argv[1][i];
        if (ioctl(0, TIOCSTI, &c) != 0) {
            err = errno;
            break;
        }
        pushed++;
    }
    printf("pushed %zu of %zu%s%s\n", pushed, len, err ? ": " : "", err ? strerror(err) : "");
    return pushed == len ? 0 : 1;
}
