/*
 * diyc's trampoline: the one program between diyc and a container's
 * command. diyc's last act in the container's first process is to
 * execute this, from a sealed memory file; it executes the command.
 *
 * Why: until that last exec the process runs diyc's own binary, so a
 * command that leads back to /proc/self/exe (an image whose /bin/sh is a
 * script starting "#!/proc/self/exe", or whose loader is that link) would
 * start the host's diyc inside the container, where it can be read and,
 * once diyc is gone, rewritten. From here, /proc/self/exe is this sealed
 * copy: nothing of the host's, and nothing anyone can write.
 *
 * No C library: it is built with -nostdlib, -static, so it is a few
 * hundred bytes and depends on nothing in the image.
 *
 * argv: "diyc-trampoline", the command's path, then the command's argv.
 */

#if defined(__x86_64__)
#define NR_WRITE 1
#define NR_EXECVE 59
#define NR_EXIT_GROUP 231

static long call3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

/* The kernel starts us with argc at the stack pointer; keep the ABI's
 * 16-byte alignment for the call into C. */
__asm__(".globl _start\n"
	"_start:\n"
	"\txor %rbp, %rbp\n"
	"\tmov %rsp, %rdi\n"
	"\tand $-16, %rsp\n"
	"\tcall trampoline\n"
	"\thlt\n");

#elif defined(__aarch64__)
#define NR_WRITE 64
#define NR_EXECVE 221
#define NR_EXIT_GROUP 94

static long call3(long n, long a, long b, long c)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	return x0;
}

__asm__(".globl _start\n"
	"_start:\n"
	"\tmov x29, #0\n"
	"\tmov x0, sp\n"
	"\tbl trampoline\n");

#else
#error "the trampoline knows x86_64 and aarch64 only"
#endif

#define ENOENT 2
#define EACCES 13
#define ENOEXEC 8
#define ELOOP 40
#define ENOMEM 12
#define E2BIG 7
#define ETXTBSY 26

static long length(const char *s)
{
	long n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	call3(NR_WRITE, 2, (long)s, length(s));
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* The words a shell would use, for the errors an exec can give once diyc
 * has checked that the command exists and may be executed. */
static const char *reason(long err)
{
	switch (err) {
	case ENOENT: return "No such file or directory (or its interpreter is missing)";
	case EACCES: return "Permission denied";
	case ENOEXEC: return "Exec format error";
	case ELOOP: return "Too many levels of symbolic links";
	case ENOMEM: return "Cannot allocate memory";
	case E2BIG: return "Argument list too long";
	case ETXTBSY: return "Text file busy";
	default: return "the kernel refused it";
	}
}

__attribute__((used, noreturn)) void trampoline(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	long err;

	/* Started any other way (a script naming /proc/self/exe as its
	 * interpreter), refuse rather than run the command again. */
	if (argc < 3 || !same(argv[0], "diyc-trampoline")) {
		say("diyc: the trampoline only starts a container's command\n");
		call3(NR_EXIT_GROUP, 126, 0, 0);
	}
	err = -call3(NR_EXECVE, (long)argv[1], (long)(argv + 2), (long)envp);
	say("diyc: cannot execute ");
	say(argv[1]);
	say(": ");
	say(reason(err));
	say("\n");
	call3(NR_EXIT_GROUP, err == ENOENT ? 127 : 126, 0, 0);
	for (;;)
		;
}
