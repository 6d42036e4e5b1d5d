#ifndef WEFT_CNETFILTER_H
#define WEFT_CNETFILTER_H

#include <stddef.h>
#include <stdint.h>
// glibc's socket headers first, so the kernel headers below skip their own in_addr and sockaddr_in definitions.
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/gen.h>

/// MNL_SOCKET_BUFFER_SIZE is a macro expression Swift cannot import.
size_t weft_mnl_socket_buffer_size(void);

#endif
