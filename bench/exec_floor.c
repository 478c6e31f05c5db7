/* The floor under every "spawn to ..." figure: a static program that does
 * nothing but report, on stderr, when its main() ran (CLOCK_MONOTONIC and
 * the process's CPU time, in microseconds, as flint's own Debug line).
 * bench.py spawns it exactly as it spawns flint: whatever this costs is
 * fork and exec on this host, not any VMM's work. */
#include <stdio.h>
#include <time.h>

static unsigned long long us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

int main(void)
{
	unsigned long long wall = us(CLOCK_MONOTONIC), cpu = us(CLOCK_PROCESS_CPUTIME_ID);

	fprintf(stderr, "main entered at monotonic %llu us, process CPU %llu us\n", wall, cpu);
	return 0;
}
