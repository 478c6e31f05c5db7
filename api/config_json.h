/* The configuration as JSON, in Firecracker's shapes: GET /vm/config
 * (FullVmConfiguration, which cfg_load_json reads back into an equal config)
 * and GET /machine-config (MachineConfiguration).
 *
 * Both return 0 and a malloc'd, NUL-terminated string in *out (the caller
 * frees it) with its length in *len, or -ENOMEM. Pure; any thread that may
 * read the config. */
#ifndef FLINT_API_CONFIG_JSON_H
#define FLINT_API_CONFIG_JSON_H

#include <stddef.h>

#include "vmm/config.h"

int cfgjson_write_vm(const struct vm_config *cfg, char **out, size_t *len);
int cfgjson_write_machine(const struct cfg_machine *m, char **out, size_t *len);

#endif
