#ifndef WEFT_CLINUXNET_H
#define WEFT_CLINUXNET_H

#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

/// setns(fd, CLONE_NEWNET); glibc hides setns behind _GNU_SOURCE, which Swift's Glibc module does not define.
int weft_setns_net(int fd);

/// 1 when `path` (not following a symlink) has the extended attribute `name`, 0 when not, -errno on error.
int weft_has_xattr(const char *path, const char *name);

/// The path of the cgroup with `id` (its kernfs node id, as sock_diag reports it) below the cgroup2 mount open as
/// `mount_fd`, written to `out` relative to the mount (`""` for its root). Resolved exactly by file handle
/// (open_by_handle_at with a kernfs handle, as systemd does), no tree walk; needs CAP_DAC_READ_SEARCH.
/// Returns the length written, or -errno (-ESTALE: no such cgroup; -ENAMETOOLONG: `capacity` too small).
int weft_cgroup_path(int mount_fd, uint64_t id, char *out, int capacity);

/// The original source of a TCP connection netfilter rewrote, found by its reply tuple in conntrack: the reply
/// of a redirected connection goes from `reply_src` (the proxy's listener) to `reply_dst` (the client as the proxy
/// sees it, its port possibly remapped). Writes the client's own address (4 or 16 bytes) and port.
/// Returns 1 when found, 0 when conntrack has no such entry, -errno on error (a netlink socket per call, 1 s bound).
int weft_conntrack_original_source(int family,
                                   const uint8_t *reply_src, uint16_t reply_sport,
                                   const uint8_t *reply_dst, uint16_t reply_dport,
                                   uint8_t *out_addr, uint16_t *out_port);

/// getsockopt level and name of the original destination before a netfilter redirect.
extern const int WEFT_SOL_IP;
extern const int WEFT_SOL_IPV6;
extern const int WEFT_SO_ORIGINAL_DST;      /* SOL_IP */
extern const int WEFT_IP6T_SO_ORIGINAL_DST; /* SOL_IPV6 */

/// One TCP socket as sock_diag reports it. Addresses are network-order bytes (4 used for IPv4).
typedef struct weft_tcp_socket {
    uint8_t family;       /* AF_INET or AF_INET6 */
    uint8_t state;        /* TCP_ESTABLISHED, TCP_LISTEN, ... */
    uint8_t local_addr[16];
    uint16_t local_port;  /* host order */
    uint8_t remote_addr[16];
    uint16_t remote_port; /* host order */
    uint32_t uid;
    uint64_t inode;
    uint64_t cgroup_id;   /* 0 when the kernel did not report one */
} weft_tcp_socket;

/// Opens a NETLINK_SOCK_DIAG socket; returns the fd or -errno.
int weft_sock_diag_open(void);

/// Exact lookup of the TCP socket with this 4-tuple (local = the socket's own address).
/// Returns 1 and fills `out` when found, 0 when there is no such socket, -errno on error.
int weft_sock_diag_lookup(int fd, int family,
                          const uint8_t *local_addr, uint16_t local_port,
                          const uint8_t *remote_addr, uint16_t remote_port,
                          weft_tcp_socket *out);

/// Dumps TCP sockets of one family in the states of `state_mask` (bit N = state N) into `out`.
/// Returns the number found (which may exceed `capacity`: call again with more room), or -errno.
int weft_sock_diag_dump(int fd, int family, uint32_t state_mask, weft_tcp_socket *out, int capacity);

// Hitless restart: a successor takes the listening sockets from its predecessor over a unix socket (SOCK_SEQPACKET,
// one message per datagram, descriptors as SCM_RIGHTS). Each call returns -errno on failure.

/// The most descriptors one hand-over message carries.
#define WEFT_HANDOVER_MAX_FDS 64

/// Listens at `path`: bound at `path.<pid>`, mode 0600, then renamed over `path`, so a successor's socket replaces
/// the predecessor's atomically and nothing is ever unlinked under another process. Returns the socket.
int weft_handover_listen(const char *path);
/// Connects to the socket at `path` (-ENOENT or -ECONNREFUSED: nobody listens there). Returns the socket.
int weft_handover_connect(const char *path);
/// Accepts one connection within `timeout_ms` (-EAGAIN when none came).
int weft_handover_accept(int fd, int timeout_ms);
/// The peer's uid and pid (SO_PEERCRED).
int weft_handover_peer(int fd, uint32_t *uid, int32_t *pid);
/// Sends `length` bytes and `count` descriptors as one message. Returns the bytes sent.
int weft_handover_send(int fd, const void *data, int length, const int *fds, int count);
/// Receives one message within `timeout_ms` (-EAGAIN when none came): its bytes into `data`, its descriptors
/// (close-on-exec) into `fds` (room for WEFT_HANDOVER_MAX_FDS). Returns the bytes received (0: the peer closed);
/// -EMSGSIZE, with nothing kept, when the message did not fit.
int weft_handover_receive(int fd, void *data, int capacity, int *fds, int *count, int timeout_ms);

#endif
