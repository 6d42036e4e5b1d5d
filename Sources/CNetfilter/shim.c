#include "CNetfilter.h"

size_t weft_mnl_socket_buffer_size(void) {
    return MNL_SOCKET_BUFFER_SIZE;
}
