/* libFuzzer target for the JSON layer, every request body parser and the
 * --config-file loader. The first byte picks the parser; the rest is the
 * document. A config that loads must also survive the GET /vm/config round
 * trip unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/config_json.h"
#include "vmm/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Compared as text: struct padding makes memcmp of two configs unreliable. */
static void fuzz_load(const char *js, size_t len)
{
	struct vm_config *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	char *out = NULL, *out2 = NULL;
	size_t olen = 0, olen2 = 0;
	struct fault f;

	if (!a || !b)
		abort();
	cfg_init(a);
	cfg_init(b);
	if (cfg_load_json(a, js, len, &f) == 0 && cfgjson_write_vm(a, &out, &olen) == 0) {
		/* the loader must read back what the serializer wrote, unchanged */
		if (cfg_load_json(b, out, olen, &f) != 0 ||
		    cfgjson_write_vm(b, &out2, &olen2) != 0 || olen != olen2 ||
		    memcmp(out, out2, olen) != 0)
			abort();
		free(out);
		free(out2);
	}
	free(a);
	free(b);
}

static void fuzz_body(unsigned which, const char *js, size_t len)
{
	union {
		struct cfg_machine machine;
		struct body_machine_patch machine_patch;
		struct cfg_boot_source boot;
		struct cfg_drive drive;
		struct body_drive_patch drive_patch;
		struct cfg_net net;
		struct body_net_patch net_patch;
		struct cfg_vsock vsock;
		struct cfg_entropy entropy;
		struct cfg_logger logger;
		struct cfg_metrics metrics;
		struct cfg_serial serial;
		struct body_action action;
		struct body_vm vm;
		struct body_snapshot_create snap_create;
		struct body_snapshot_load snap_load;
	} *u = malloc(sizeof(*u));
	struct fault f;

	if (!u)
		abort();
	switch (which % 16) {
	case 0:
		body_parse_machine(js, len, &u->machine, &f);
		break;
	case 1:
		body_parse_machine_patch(js, len, &u->machine_patch, &f);
		break;
	case 2:
		body_parse_boot_source(js, len, &u->boot, &f);
		break;
	case 3:
		body_parse_drive(js, len, &u->drive, &f);
		break;
	case 4:
		body_parse_drive_patch(js, len, &u->drive_patch, &f);
		break;
	case 5:
		body_parse_net(js, len, &u->net, &f);
		break;
	case 6:
		body_parse_net_patch(js, len, &u->net_patch, &f);
		break;
	case 7:
		body_parse_vsock(js, len, &u->vsock, &f);
		break;
	case 8:
		body_parse_entropy(js, len, &u->entropy, &f);
		break;
	case 9:
		body_parse_logger(js, len, &u->logger, &f);
		break;
	case 10:
		body_parse_metrics(js, len, &u->metrics, &f);
		break;
	case 11:
		body_parse_serial(js, len, &u->serial, &f);
		break;
	case 12:
		body_parse_action(js, len, &u->action, &f);
		break;
	case 13:
		body_parse_vm(js, len, &u->vm, &f);
		break;
	case 14:
		body_parse_snapshot_create(js, len, &u->snap_create, &f);
		break;
	default:
		body_parse_snapshot_load(js, len, &u->snap_load, &f);
		break;
	}
	free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *js;

	if (size < 1)
		return 0;
	/* A private copy of exactly size - 1 bytes, so ASan sees any overread. */
	js = malloc(size - 1 ? size - 1 : 1);
	if (!js)
		return 0;
	memcpy(js, data + 1, size - 1);
	if (data[0] >= 0xf0)
		fuzz_load(js, size - 1);
	else
		fuzz_body(data[0], js, size - 1);
	free(js);
	return 0;
}
