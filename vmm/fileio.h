/* Small file helpers shared by the config loader and the snapshot reader. */
#ifndef FLINT_VMM_FILEIO_H
#define FLINT_VMM_FILEIO_H

#include <stddef.h>

/* Read exactly len bytes from fd (retrying short reads and EINTR).
 * 0, -EIO if the file ends first, or -errno. */
int fd_read_full(int fd, void *buf, size_t len);

#endif
