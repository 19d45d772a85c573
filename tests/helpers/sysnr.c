/* Makes one raw system call, `sysnr NR [ARG...]` (numbers, decimal or
 * 0x hex), and prints how it went: "ok N" or the errno's name. Static, so
 * it runs in the busybox image; for checking what a seccomp filter lets
 * through. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static const char *name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return "other";
	}
}

int main(int argc, char **argv)
{
	long a[6] = {0};
	long nr, r;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: sysnr NR [ARG...]\n");
		return 2;
	}
	nr = strtol(argv[1], NULL, 0);
	for (i = 2; i < argc && i < 8; i++)
		a[i - 2] = strtol(argv[i], NULL, 0);
	r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (r < 0)
		printf("%s\n", name(errno));
	else
		printf("ok %ld\n", r);
	return 0;
}
