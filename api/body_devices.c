/* Bodies of the devices: drives, network interfaces, vsock, entropy, and the
 * rate limiters they share. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "api/body_impl.h"

static const char *const cache_names[] = {"Unsafe", "Writeback"};
static const char *const engine_names[] = {"Sync", "Async"};

static const struct json_field bucket_fields[] = {
    {"size", JSON_F_U64, true, offsetof(struct cfg_token_bucket, size)},
    {"one_time_burst", JSON_F_U64, false, offsetof(struct cfg_token_bucket, one_time_burst)},
    {"refill_time", JSON_F_U64, true, offsetof(struct cfg_token_bucket, refill_time_ms)},
};

int body_read_token_bucket(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	struct cfg_token_bucket *b = dst;

	memset(b, 0, sizeof(*b));
	if (json_walk_object(doc, tok, bucket_fields, BODY_NFIELDS(bucket_fields), b, NULL, f))
		return -EINVAL;
	b->set = true;
	return 0;
}

static const struct json_field limiter_fields[] = {
    {"bandwidth", JSON_F_CUSTOM, false, offsetof(struct cfg_rate_limiter, bandwidth), 0,
     body_read_token_bucket},
    {"ops", JSON_F_CUSTOM, false, offsetof(struct cfg_rate_limiter, ops), 0,
     body_read_token_bucket},
};

int body_read_rate_limiter(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	memset(dst, 0, sizeof(struct cfg_rate_limiter));
	return json_walk_object(doc, tok, limiter_fields, BODY_NFIELDS(limiter_fields), dst, NULL,
				f);
}

static int read_cache(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	int v;

	if (json_get_enum(doc, tok, cache_names, 2, false, &v, f))
		return -EINVAL;
	*(enum cfg_cache_type *)dst = (enum cfg_cache_type)v;
	return 0;
}

static int read_engine(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	int v;

	if (json_get_enum(doc, tok, engine_names, 2, false, &v, f))
		return -EINVAL;
	*(enum cfg_io_engine *)dst = (enum cfg_io_engine)v;
	return 0;
}

static int refuse_socket(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	(void)doc;
	(void)tok;
	(void)dst;
	fault_set(f, "vhost-user block devices are not supported by flint");
	return -EINVAL;
}

static const struct json_field drive_fields[] = {
    {"drive_id", JSON_F_STR, true, offsetof(struct cfg_drive, drive_id), CFG_ID_MAX + 1},
    {"path_on_host", JSON_F_STR, true, offsetof(struct cfg_drive, path_on_host), CFG_PATH_MAX},
    {"is_root_device", JSON_F_BOOL, true, offsetof(struct cfg_drive, is_root_device)},
    {"is_read_only", JSON_F_BOOL, false, offsetof(struct cfg_drive, is_read_only)},
    {"partuuid", JSON_F_STR, false, offsetof(struct cfg_drive, partuuid),
     sizeof(((struct cfg_drive *)0)->partuuid)},
    {"cache_type", JSON_F_CUSTOM, false, offsetof(struct cfg_drive, cache_type), 0, read_cache},
    {"io_engine", JSON_F_CUSTOM, false, offsetof(struct cfg_drive, io_engine), 0, read_engine},
    {"rate_limiter", JSON_F_CUSTOM, false, offsetof(struct cfg_drive, rate_limiter), 0,
     body_read_rate_limiter},
    {"socket", JSON_F_CUSTOM, false, 0, 0, refuse_socket},
};

int body_read_drive(const struct json_doc *doc, int tok, struct cfg_drive *out, struct fault *f)
{
	memset(out, 0, sizeof(*out));
	return json_walk_object(doc, tok, drive_fields, BODY_NFIELDS(drive_fields), out, NULL, f);
}

BODY_PARSE_VIA_READ(drive, struct cfg_drive)

static const struct json_field drive_patch_fields[] = {
    {"drive_id", JSON_F_STR, true, offsetof(struct body_drive_patch, drive_id), CFG_ID_MAX + 1},
    {"path_on_host", JSON_F_STR, false, offsetof(struct body_drive_patch, path_on_host),
     CFG_PATH_MAX},
    {"rate_limiter", JSON_F_CUSTOM, false, offsetof(struct body_drive_patch, rate_limiter), 0,
     body_read_rate_limiter},
};

int body_parse_drive_patch(const char *json, size_t len, struct body_drive_patch *out,
			   struct fault *f)
{
	uint32_t present = 0;

	memset(out, 0, sizeof(*out));
	if (json_parse_fields(json, len, drive_patch_fields, BODY_NFIELDS(drive_patch_fields), out,
			      &present, f))
		return -EINVAL;
	out->has_path_on_host = present & 1u << 1;
	out->has_rate_limiter = present & 1u << 2;
	return 0;
}

static int read_mac(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	char buf[CFG_MAC_LEN + 1];

	if (json_get_str(doc, tok, buf, sizeof(buf), f) || cfg_parse_mac(buf, dst)) {
		fault_set(f, "must be a MAC address like \"06:00:ac:10:00:02\"");
		return -EINVAL;
	}
	return 0;
}

static int read_mtu(const struct json_doc *doc, int tok, void *dst, struct fault *f)
{
	uint64_t v;

	if (json_get_u64(doc, tok, &v, f))
		return -EINVAL;
	if (v < 68 || v > 65535) {
		fault_set(f, "must be between 68 and 65535, got %llu", (unsigned long long)v);
		return -EINVAL;
	}
	*(uint32_t *)dst = (uint32_t)v;
	return 0;
}

static const struct json_field net_fields[] = {
    {"iface_id", JSON_F_STR, true, offsetof(struct cfg_net, iface_id), CFG_ID_MAX + 1},
    {"host_dev_name", JSON_F_STR, true, offsetof(struct cfg_net, host_dev_name),
     sizeof(((struct cfg_net *)0)->host_dev_name)},
    {"guest_mac", JSON_F_CUSTOM, false, offsetof(struct cfg_net, guest_mac), 0, read_mac},
    {"mtu", JSON_F_CUSTOM, false, offsetof(struct cfg_net, mtu), 0, read_mtu},
    {"rx_rate_limiter", JSON_F_CUSTOM, false, offsetof(struct cfg_net, rx_rate_limiter), 0,
     body_read_rate_limiter},
    {"tx_rate_limiter", JSON_F_CUSTOM, false, offsetof(struct cfg_net, tx_rate_limiter), 0,
     body_read_rate_limiter},
};

int body_read_net(const struct json_doc *doc, int tok, struct cfg_net *out, struct fault *f)
{
	uint32_t present = 0;

	memset(out, 0, sizeof(*out));
	if (json_walk_object(doc, tok, net_fields, BODY_NFIELDS(net_fields), out, &present, f))
		return -EINVAL;
	out->has_guest_mac = present & 1u << 2;
	return 0;
}

BODY_PARSE_VIA_READ(net, struct cfg_net)

static const struct json_field net_patch_fields[] = {
    {"iface_id", JSON_F_STR, true, offsetof(struct body_net_patch, iface_id), CFG_ID_MAX + 1},
    {"rx_rate_limiter", JSON_F_CUSTOM, false, offsetof(struct body_net_patch, rx_rate_limiter), 0,
     body_read_rate_limiter},
    {"tx_rate_limiter", JSON_F_CUSTOM, false, offsetof(struct body_net_patch, tx_rate_limiter), 0,
     body_read_rate_limiter},
};

int body_parse_net_patch(const char *json, size_t len, struct body_net_patch *out, struct fault *f)
{
	uint32_t present = 0;

	memset(out, 0, sizeof(*out));
	if (json_parse_fields(json, len, net_patch_fields, BODY_NFIELDS(net_patch_fields), out,
			      &present, f))
		return -EINVAL;
	out->has_rx_rate_limiter = present & 1u << 1;
	out->has_tx_rate_limiter = present & 1u << 2;
	return 0;
}

static const struct json_field vsock_fields[] = {
    {"guest_cid", JSON_F_U32, true, offsetof(struct cfg_vsock, guest_cid)},
    {"uds_path", JSON_F_STR, true, offsetof(struct cfg_vsock, uds_path),
     sizeof(((struct cfg_vsock *)0)->uds_path)},
    {"vsock_id", JSON_F_IGNORE, false},
};

int body_read_vsock(const struct json_doc *doc, int tok, struct cfg_vsock *out, struct fault *f)
{
	memset(out, 0, sizeof(*out));
	if (json_walk_object(doc, tok, vsock_fields, BODY_NFIELDS(vsock_fields), out, NULL, f))
		return -EINVAL;
	out->set = true;
	return 0;
}

BODY_PARSE_VIA_READ(vsock, struct cfg_vsock)

static const struct json_field entropy_fields[] = {
    {"rate_limiter", JSON_F_CUSTOM, false, offsetof(struct cfg_entropy, rate_limiter), 0,
     body_read_rate_limiter},
};

int body_read_entropy(const struct json_doc *doc, int tok, struct cfg_entropy *out, struct fault *f)
{
	memset(out, 0, sizeof(*out));
	if (json_walk_object(doc, tok, entropy_fields, BODY_NFIELDS(entropy_fields), out, NULL, f))
		return -EINVAL;
	out->set = true;
	return 0;
}

BODY_PARSE_VIA_READ(entropy, struct cfg_entropy)
