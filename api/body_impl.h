/* Private to api/body*.c: the glue from a whole body to a body_read_X(). */
#ifndef FLINT_API_BODY_IMPL_H
#define FLINT_API_BODY_IMPL_H

#include "api/body.h"

/* Defines body_parse_NAME(json, len, out, f) over body_read_NAME(). */
#define BODY_PARSE_VIA_READ(name, type)                                                            \
	int body_parse_##name(const char *json, size_t len, type *out, struct fault *f)            \
	{                                                                                          \
		struct json_doc doc;                                                               \
		int r = json_parse(&doc, json, len, f);                                            \
                                                                                                   \
		if (r)                                                                             \
			return r;                                                                  \
		r = body_read_##name(&doc, 0, out, f);                                             \
		json_free(&doc);                                                                   \
		return r;                                                                          \
	}

#define BODY_NFIELDS(tbl) ((int)(sizeof(tbl) / sizeof((tbl)[0])))

#endif
