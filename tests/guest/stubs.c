#include "guest.h"

int test_vsock(struct test_ctx *t)
{
	return test_fail(t, "not implemented");
}
