/* A function on a short-lived thread, joined later (see bg_task.h). */
#include "vmm/bg_task.h"

#include <string.h>

static void *bg_task_main(void *opaque)
{
	struct bg_task *t = opaque;

	t->err = t->fn(t->arg, &t->fault);
	return NULL;
}

void bg_task_start(struct bg_task *t, bg_task_fn fn, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->arg = arg;
	if (pthread_create(&t->thread, NULL, bg_task_main, t) == 0)
		t->started = true;
	else
		bg_task_main(t); /* no thread: the same work, only not overlapped */
}

int bg_task_join(struct bg_task *t, struct fault *f)
{
	int err;

	if (t->started)
		pthread_join(t->thread, NULL);
	t->started = false;
	err = t->err;
	t->err = 0;
	if (err)
		*f = t->fault;
	return err;
}
