/*
 * ping for the built-in image: ICMP echo over an ICMP socket
 * (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)). Such a socket needs no
 * capability, only a group inside net.ipv4.ping_group_range, which diyc
 * opens in each container's own network namespace; busybox's ping needs a
 * raw socket, and so CAP_NET_RAW, which containers do not get (a raw
 * socket can forge any packet on the bridge). Options as busybox's:
 * -c COUNT, -W SECONDS (how long to wait for each answer), -q.
 * Numeric IPv4 addresses and "localhost" only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int count = -1, wait_s = 10, quiet = 0, opt;
	while ((opt = getopt(argc, argv, "c:W:q")) != -1) {
		switch (opt) {
		case 'c': count = atoi(optarg); break;
		case 'W': wait_s = atoi(optarg); break;
		case 'q': quiet = 1; break;
		default:
			fprintf(stderr, "usage: ping [-q] [-c COUNT] [-W SECONDS] ADDRESS\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: ping [-q] [-c COUNT] [-W SECONDS] ADDRESS\n");
		return 2;
	}
	const char *host = argv[optind];
	struct sockaddr_in to = { .sin_family = AF_INET };
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &to.sin_addr) != 1) {
		fprintf(stderr, "ping: %s: only numeric IPv4 addresses here\n", host);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	if (fd < 0) {
		fprintf(stderr, "ping: ICMP socket: %s (is the group in net.ipv4.ping_group_range?)\n",
			strerror(errno));
		return 2;
	}
	printf("PING %s (%s): 56 data bytes\n", host, host);
	int sent = 0, received = 0;
	for (int seq = 0; count < 0 || seq < count; seq++) {
		unsigned char packet[64] = { 0 };
		struct icmphdr *req = (struct icmphdr *)packet;
		req->type = ICMP_ECHO;
		/* The kernel fills in the identifier and checksum. */
		req->un.echo.sequence = htons(seq);
		double start = now_ms();
		if (sendto(fd, packet, sizeof packet, 0, (struct sockaddr *)&to, sizeof to) < 0) {
			fprintf(stderr, "ping: sendto: %s\n", strerror(errno));
			return 1;
		}
		sent++;
		double deadline = start + wait_s * 1e3;
		for (;;) {
			double left = deadline - now_ms();
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (left <= 0 || poll(&p, 1, (int)left + 1) <= 0)
				break;
			unsigned char reply[128];
			ssize_t n = recv(fd, reply, sizeof reply, 0);
			struct icmphdr *r = (struct icmphdr *)reply;
			if (n >= (ssize_t)sizeof *r && r->type == ICMP_ECHOREPLY &&
			    ntohs(r->un.echo.sequence) == seq) {
				received++;
				if (!quiet)
					printf("%zd bytes from %s: seq=%d time=%.3f ms\n", n, host, seq,
					       now_ms() - start);
				break;
			}
		}
		if (count < 0 || seq + 1 < count)
			sleep(1);
	}
	printf("\n--- %s ping statistics ---\n", host);
	printf("%d packets transmitted, %d packets received, %d%% packet loss\n", sent, received,
	       sent ? (sent - received) * 100 / sent : 0);
	return received > 0 ? 0 : 1;
}
